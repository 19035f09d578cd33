package doccheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// moduleRoot is the typecache module, seen from this package's directory.
const moduleRoot = "../../.."

// TestDocBlocks is the check itself: every ```go block of README.md and
// docs/*.md is mirrored by an example or compiles.
func TestDocBlocks(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(moduleRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"README.md"}
	for _, f := range files {
		names = append(names, filepath.ToSlash(strings.TrimPrefix(f, moduleRoot+string(filepath.Separator))))
	}
	mirrors, err := Mirrors(moduleRoot)
	if err != nil {
		t.Fatal(err)
	}
	var toCompile []Block
	total := 0
	for _, name := range names {
		blocks, err := Blocks(moduleRoot, name)
		if err != nil {
			t.Fatal(err)
		}
		total += len(blocks)
		for _, b := range blocks {
			if !b.Mirrored(mirrors) {
				toCompile = append(toCompile, b)
			}
		}
	}
	problems, err := Compile(moduleRoot, t.TempDir(), toCompile)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d go blocks in %d files: %d mirrored, %d compiled, %d failing", total, len(names), total-len(toCompile), len(toCompile)-len(problems), len(problems))
}

// TestCheckerVerdicts runs the checker on a document with one block of each
// kind and checks that exactly the broken ones are reported, at the line of
// the error.
func TestCheckerVerdicts(t *testing.T) {
	doc := strings.Join([]string{
		"# guide", // 1
		"```go",   // 2
		"users, err := cache.New[User](client, \"user\", opts)", // 3: mirrored, would not compile alone
		"```",                      // 4
		"```go",                    // 5
		"func double(n int) int {", // 6: declarations that compile
		"\treturn 2 * n",           // 7
		"}",                        // 8
		"```",                      // 9
		"```go",                    // 10
		"d := 2 * time.Second",     // 11: statements that compile; d unused is fine
		"```",                      // 12
		"  ```go",                  // 13: indented, in a list item
		"  lim, err := ratelimit.New(nil, ratelimit.Options{})", // 14
		"  var n int = lim",               // 15: type error
		"  ```",                           // 16
		"```go",                           // 17
		"package main",                    // 18: a whole file with an error
		"",                                // 19
		"func main() { undefinedCall() }", // 20
		"```",                             // 21
		"```sh",                           // 22: not Go, ignored
		"go run .",                        // 23
		"```",                             // 24
	}, "\n") + "\n"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "guide.md"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	blocks, err := Blocks(dir, "guide.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 5 {
		t.Fatalf("found %d go blocks, want 5", len(blocks))
	}
	mirrors := []string{normalize("func ExampleNew() {\n\tusers, err := cache.New[User](client, \"user\",\n\t\topts)\n}")}
	var toCompile []Block
	for _, b := range blocks {
		if !b.Mirrored(mirrors) {
			toCompile = append(toCompile, b)
		}
	}
	if len(toCompile) != 4 {
		t.Fatalf("%d blocks unmirrored, want 4 (the first is mirrored up to whitespace)", len(toCompile))
	}
	problems, err := Compile(moduleRoot, t.TempDir(), toCompile)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.Reason)
	}
	if len(problems) != 2 || !strings.Contains(got[0], "guide.md:15: ") || !strings.Contains(got[1], "guide.md:20: ") {
		t.Fatalf("want the blocks at lines 14 and 18 reported with errors at lines 15 and 20, got:\n%s", strings.Join(got, "\n"))
	}
}
