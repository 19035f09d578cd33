// Package doccheck verifies the Go code in typecache's Markdown documentation:
// every ```go block in README.md and docs/*.md must either be mirrored by a
// program or Example that the tests build (the block appears verbatim, up to
// whitespace, in an example_test.go file or under examples/), or compile on
// its own against the current packages.
//
// A block compiles on its own when it is a whole file (it starts with
// "package"), top-level declarations, or statements (checked as the body of
// a function). Imports may be left out for the standard and typecache
// packages listed in knownImports. Unused variables and imports are not
// counted against a block: a fragment need not use everything it declares.
//
// The check runs as a test (doccheck_test.go), so `make test` enforces it.
package doccheck

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/scanner"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Block is one ```go code block of a Markdown file.
type Block struct {
	File string // path relative to the module root
	Line int    // line of the first line of code, 1-based
	Code string
}

// Problem is a block that is neither mirrored nor compiles.
type Problem struct {
	Block
	Reason string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: go block is not mirrored by an example and does not compile:\n%s", p.File, p.Line, p.Reason)
}

// Blocks returns the ```go blocks of the Markdown file at root/file.
func Blocks(root, file string) ([]Block, error) {
	data, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		return nil, err
	}
	var blocks []Block
	var cur *Block
	var fence string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```") && strings.TrimSpace(strings.TrimLeft(trimmed, "`")) == "go":
			fence = trimmed[:len(trimmed)-len(strings.TrimLeft(trimmed, "`"))]
			cur = &Block{File: file, Line: n + 1}
		case cur != nil && strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, "`") == "":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.Code += line + "\n"
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: unclosed ```go block", file, cur.Line-1)
	}
	return blocks, sc.Err()
}

// normalize collapses every run of white space to one space, so that a block
// matches its mirror whatever the indentation.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

// Mirrors returns the normalised text of every file that may mirror a block:
// example_test.go and example_*_test.go files anywhere in the module, and Go
// files under examples/.
func Mirrors(root string) ([]string, error) {
	var texts []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		isExample := name == "example_test.go" || (strings.HasPrefix(name, "example_") && strings.HasSuffix(name, "_test.go"))
		underExamples := strings.HasPrefix(filepath.ToSlash(rel), "examples/") && strings.HasSuffix(name, ".go")
		if !isExample && !underExamples {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		texts = append(texts, normalize(string(data)))
		return nil
	})
	return texts, err
}

// Mirrored reports whether the block appears in one of the mirror texts.
func (b Block) Mirrored(mirrors []string) bool {
	code := normalize(b.Code)
	return slices.ContainsFunc(mirrors, func(text string) bool { return strings.Contains(text, code) })
}

// knownImports are the packages a block may use without importing them,
// by the name it uses.
var knownImports = map[string]string{
	"typecache": "github.com/typecache/typecache",
	"cache":     "github.com/typecache/typecache/cache",
	"codec":     "github.com/typecache/typecache/codec",
	"codectest": "github.com/typecache/typecache/codec/codectest",
	"lock":      "github.com/typecache/typecache/lock",
	"ratelimit": "github.com/typecache/typecache/ratelimit",
	"session":   "github.com/typecache/typecache/session",
	"rueidis":   "github.com/redis/rueidis",
	"context":   "context",
	"errors":    "errors",
	"fmt":       "fmt",
	"http":      "net/http",
	"io":        "io",
	"json":      "encoding/json",
	"log":       "log",
	"netip":     "net/netip",
	"os":        "os",
	"rand":      "crypto/rand",
	"slog":      "log/slog",
	"strings":   "strings",
	"sync":      "sync",
	"testing":   "testing",
	"time":      "time",
}

// source returns a compilable file for the block, and how many lines precede
// the block's first line in it.
func (b Block) source() (src string, offset int) {
	if isWholeFile(b.Code) {
		return b.Code, 0
	}
	var head strings.Builder
	head.WriteString("package snippet\n\n")
	for _, path := range importsUsed(b.Code) {
		fmt.Fprintf(&head, "import %q\n", path)
	}
	fset := token.NewFileSet()
	if _, err := parser.ParseFile(fset, "", head.String()+b.Code, parser.SkipObjectResolution); err == nil {
		return head.String() + b.Code, strings.Count(head.String(), "\n")
	}
	head.WriteString("func _() {\n")
	return head.String() + b.Code + "}\n", strings.Count(head.String(), "\n")
}

func isWholeFile(code string) bool {
	for _, line := range strings.Split(code, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		return strings.HasPrefix(line, "package ")
	}
	return false
}

// importsUsed returns the known packages the code refers to as name.X, where
// name is not itself the right side of a selector (x.name.X is a field).
func importsUsed(code string) []string {
	type tok struct {
		tok token.Token
		lit string
	}
	var toks []tok
	var s scanner.Scanner
	s.Init(token.NewFileSet().AddFile("", -1, len(code)), []byte(code), nil, 0)
	for {
		_, t, lit := s.Scan()
		if t == token.EOF {
			break
		}
		toks = append(toks, tok{t, lit})
	}
	var paths []string
	for i := 0; i+1 < len(toks); i++ {
		if toks[i].tok != token.IDENT || toks[i+1].tok != token.PERIOD || (i > 0 && toks[i-1].tok == token.PERIOD) {
			continue
		}
		if path, ok := knownImports[toks[i].lit]; ok && !slices.Contains(paths, path) {
			paths = append(paths, path)
		}
	}
	slices.Sort(paths)
	return paths
}

// ignoredErrors are compiler errors that do not make a fragment wrong.
var ignoredErrors = regexp.MustCompile(`declared and not used|imported and not used`)

// maxReasons is how many compiler errors are shown per block.
const maxReasons = 5

// compileErrorLine matches "path:line:col: message".
var compileErrorLine = regexp.MustCompile(`^(.+\.go):(\d+):(?:\d+:)? (.*)$`)

// Compile type-checks the blocks against the module at root, each as its own
// package under internal/doccheck/snippets (a directory that exists only in
// the -overlay given to go build), and returns the blocks that fail. Files
// are written to tmp. An error means the check itself could not run, for
// example because a package the blocks import does not compile.
func Compile(root, tmp string, blocks []Block) ([]Problem, error) {
	if len(blocks) == 0 {
		return nil, nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("doccheck: the go command is not on PATH: %w", err)
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if tmp, err = filepath.Abs(tmp); err != nil {
		return nil, err
	}
	overlay := map[string]string{}
	offsets := map[string]int{} // snippet file -> lines before the block
	index := map[string]int{}   // snippet file -> index in blocks
	var dirs []string
	for i, b := range blocks {
		src, offset := b.source()
		file := filepath.Join(tmp, "snippet"+strconv.Itoa(i)+".go")
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			return nil, err
		}
		dir := filepath.Join(absRoot, "internal", "doccheck", "snippets", "s"+strconv.Itoa(i))
		overlay[filepath.Join(dir, "snippet.go")] = file
		offsets[file], index[file] = offset, i
		dirs = append(dirs, dir)
	}
	overlayJSON, err := json.Marshal(map[string]any{"Replace": overlay})
	if err != nil {
		return nil, err
	}
	overlayFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayFile, overlayJSON, 0o644); err != nil {
		return nil, err
	}
	// Build and discard; -e reports every error, not the first ten.
	cmd := exec.Command(goTool, append([]string{"build", "-gcflags=-e", "-overlay", overlayFile}, dirs...)...)
	cmd.Dir = absRoot
	out, buildErr := cmd.CombinedOutput()
	reasons := map[int][]string{}
	var foreign []string
	attributed := false
	for _, line := range strings.Split(string(out), "\n") {
		m := compileErrorLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		file := m[1] // go build prints paths relative to its directory when shorter
		if !filepath.IsAbs(file) {
			file = filepath.Join(absRoot, file)
		}
		i, ok := index[file]
		switch {
		case !ok:
			foreign = append(foreign, line)
		case ignoredErrors.MatchString(m[3]):
			attributed = true
		default:
			attributed = true
			n, _ := strconv.Atoi(m[2])
			reasons[i] = append(reasons[i], fmt.Sprintf("\t%s:%d: %s", blocks[i].File, blocks[i].Line+n-offsets[file]-1, m[3]))
		}
	}
	if len(foreign) > 0 || (buildErr != nil && !attributed) {
		return nil, fmt.Errorf("doccheck: go build failed outside the doc blocks: %v\n%s", buildErr, out)
	}
	var problems []Problem
	for i, b := range blocks {
		if lines := reasons[i]; lines != nil {
			if len(lines) > maxReasons {
				lines = append(lines[:maxReasons], fmt.Sprintf("\t(%d more)", len(reasons[i])-maxReasons))
			}
			problems = append(problems, Problem{Block: b, Reason: strings.Join(lines, "\n")})
		}
	}
	return problems, nil
}
