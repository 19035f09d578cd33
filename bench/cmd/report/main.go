// Command report turns the raw output of `make bench` into
// docs/benchmarks.md and an SVG bar chart, so that every published figure
// comes from a real run (and every target's verdict from two). `make bench-report` runs it:
//
//	go run ./cmd/report -in results/latest.txt -md ../docs/benchmarks.md -svg ../docs/img/benchmarks.svg
//
// The input is benchfmt text (`go test -bench` output) with the
// configuration lines .ci/bench writes: date, commit, cpu-model, cores, go,
// redis, count, benchtime and, when some workload failed, failed-workloads.
//
// -tier names the raw output of `make bench-tier` (internal/tier's hit
// ratio beside otter's, and its fill rejection), shown in a section of its
// own with its own stamp when the file exists.
//
// -previous names the raw output of the run before -in: the targets table
// then shows both runs, and a target counts as met only when both met it,
// so that the docs claim only what held in two runs.
//
// -notes names a hand-written Markdown file that explains the run (why a
// target was missed, what else ran on the machine). It is included only
// when its first line is <!-- run: DATE --> with the run's date line, so
// an explanation never outlives the figures it explains.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	in := flag.String("in", "results/latest.txt", "raw benchmark output of .ci/bench")
	mdPath := flag.String("md", "../docs/benchmarks.md", "markdown report to write")
	svgPath := flag.String("svg", "../docs/img/benchmarks.svg", "SVG chart to write")
	goMod := flag.String("gomod", "", "the bench module's go.mod, for the contenders' versions (default: the one of the run's commit, else ./go.mod)")
	notes := flag.String("notes", "results/notes.md", "hand-written notes on the run, included when their first line is <!-- run: DATE --> with the run's date")
	tier := flag.String("tier", "results/tier.txt", "raw output of make bench-tier (the local tier's hit ratio and fill rejection), included when present")
	previous := flag.String("previous", "results/previous.txt", "raw output of the run before -in, whose targets the verdicts also check, used when present")
	flag.Parse()
	if err := generate(*in, *mdPath, *svgPath, *goMod, *notes, *tier, *previous); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// runGoMod returns the bench module's go.mod, which names the contenders'
// versions: the file at path when one is given, else the one of the run's
// commit (git show), so that a report generated again later, from an
// earlier run, names the versions that run used; else ./go.mod (a run of a
// dirty tree, or no git).
func runGoMod(path, commit string) ([]byte, error) {
	if path != "" {
		return os.ReadFile(path)
	}
	if commit != "" && commit != "unknown" && !strings.HasSuffix(commit, "-dirty") {
		if mod, err := exec.Command("git", "show", commit+":bench/go.mod").Output(); err == nil {
			return mod, nil
		}
	}
	return os.ReadFile("go.mod")
}

func generate(in, mdPath, svgPath, goMod, notesPath, tierPath, previousPath string) error {
	r, err := parseFile(in)
	if err != nil {
		return err
	}
	tier, err := parseIfPresent(tierPath)
	if err != nil {
		return err
	}
	previous, err := parseIfPresent(previousPath)
	if err != nil {
		return err
	}
	mod, err := runGoMod(goMod, r.config["commit"])
	if err != nil {
		return err
	}
	notes, err := runNotes(notesPath, r.config["date"])
	if err != nil {
		return err
	}
	var md, svg bytes.Buffer
	chartRel, err := filepath.Rel(filepath.Dir(mdPath), svgPath)
	if err != nil {
		return err
	}
	writeMarkdown(&md, r, markdownInputs{
		source:      sourcePath(in),
		chart:       filepath.ToSlash(chartRel),
		versions:    contenderVersions(string(mod)),
		notes:       notes,
		tier:        tier,
		tierSrc:     sourcePath(tierPath),
		previous:    previous,
		previousSrc: sourcePath(previousPath),
	})
	writeSVG(&svg, r)
	if err := os.MkdirAll(filepath.Dir(svgPath), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(mdPath, md.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(svgPath, svg.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s and %s from %s (%d benchmarks)\n", mdPath, svgPath, in, len(r.benchmarks))
	return nil
}

// parseFile parses the raw benchmark output at path.
func parseFile(path string) (*run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// parseIfPresent parses the raw benchmark output at path, or returns nil
// when there is no file there.
func parseIfPresent(path string) (*run, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return parseFile(path)
}

// runNotes returns the notes at path without their first line, if that line
// names the run of date; notes written for another run are left out, with a
// warning, so that no explanation outlives the figures it explains.
func runNotes(path, date string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	first, rest, _ := strings.Cut(string(data), "\n")
	if strings.TrimSpace(first) != "<!-- run: "+date+" -->" {
		fmt.Fprintf(os.Stderr, "report: leaving out %s: its first line is %q, not <!-- run: %s -->\n", path, first, date)
		return "", nil
	}
	return strings.TrimSpace(rest), nil
}

// sourcePath names the raw output as the report shows it: relative to the
// repository root when it lies in bench/ (where make bench-report runs this).
func sourcePath(in string) string {
	if filepath.IsAbs(in) {
		return filepath.ToSlash(in)
	}
	return filepath.ToSlash(filepath.Join("bench", in))
}
