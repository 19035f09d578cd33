package tier

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// bookkeepingName matches the names the local-tier rule's state goes by:
// generation counters and epochs, per-key watches and marks, counts of
// invalidations to absorb, flags of reads made stale or flushed.
var bookkeepingName = regexp.MustCompile(`(?i)^(gens?|generations?|epochs?|watch(es)?|marks?|absorb|stale|flushed|readsInFlight)$`)

// TestBookkeepingOnlyHere parses every non-test file of the module outside
// this package and fails on a declaration of the rule's bookkeeping: a
// field, parameter or variable with one of bookkeepingName's names whose
// type is a counter, a flag or a collection of them (or of pointers), or a
// type with such a name. Packages keep a local tier through this package's
// Tier (whose values are exempt), never with a copy of the rule.
func TestBookkeepingOnlyHere(t *testing.T) {
	root := filepath.Join("..", "..")
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var found []string
	report := func(pos token.Pos, what string) {
		found = append(found, fset.Position(pos).String()+": "+what)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			abs, _ := filepath.Abs(path)
			if abs == here || path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || isFile(filepath.Join(path, "go.mod"))) {
				return filepath.SkipDir // this package, hidden folders, test data, other modules
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Field:
				for _, name := range n.Names {
					if bookkeepingName.MatchString(name.Name) && isBookkeepingType(n.Type) {
						report(name.Pos(), name.Name)
					}
				}
			case *ast.ValueSpec:
				for _, name := range n.Names {
					if n.Type != nil && bookkeepingName.MatchString(name.Name) && isBookkeepingType(n.Type) {
						report(name.Pos(), name.Name)
					}
				}
			case *ast.TypeSpec:
				if bookkeepingName.MatchString(n.Name.Name) {
					report(n.Name.Pos(), "type "+n.Name.Name)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Errorf("%s: the local tier's bookkeeping belongs to internal/tier", f)
	}
}

// isBookkeepingType reports whether expr is a counter or flag (an integer,
// a bool, their sync/atomic forms), a pointer, or a slice, array or map of
// those, and names nothing of this package.
func isBookkeepingType(expr ast.Expr) bool {
	switch e := expr.(type) {
	case *ast.Ident:
		return e.Name == "bool" || strings.HasPrefix(e.Name, "int") || strings.HasPrefix(e.Name, "uint")
	case *ast.SelectorExpr:
		pkg, ok := e.X.(*ast.Ident)
		return ok && pkg.Name == "atomic" && e.Sel.Name != "Pointer" && e.Sel.Name != "Value"
	case *ast.StarExpr:
		return !namesTier(e.X)
	case *ast.ArrayType:
		return isBookkeepingType(e.Elt)
	case *ast.MapType:
		return isBookkeepingType(e.Value)
	}
	return false
}

// namesTier reports whether expr refers to this package (tier.Tier[V]).
func namesTier(expr ast.Expr) bool {
	found := false
	ast.Inspect(expr, func(n ast.Node) bool {
		if s, ok := n.(*ast.SelectorExpr); ok {
			if pkg, ok := s.X.(*ast.Ident); ok && pkg.Name == "tier" {
				found = true
			}
		}
		return !found
	})
	return found
}

func isFile(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir()
}

// TestImportsStandardLibraryOnly: the core sits below every package that
// uses it, so it imports neither the root package nor a feature package
// (nor anything outside the standard library).
func TestImportsStandardLibraryOnly(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if first, _, _ := strings.Cut(strings.Trim(imp.Path.Value, `"`), "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s", path, imp.Path.Value)
			}
		}
	}
}
