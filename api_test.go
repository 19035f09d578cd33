package typecache_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rootAPI is everything the root package exports: what an application
// touches. Plumbing that only the sibling packages use (tracked reads, the
// direct client, the breakers' Allow and Record, the topology watch) lives
// in internal/transport; adding an export here is a decision, not a
// side effect.
var rootAPI = []string{
	"Breaker", "Breaker.OnOpen", "Breaker.Open",
	"Client", "Client.Breaker", "Client.Close", "Client.Redis", "Client.Subscribe",
	"DefaultBreakerCooldown", "DefaultBreakerFailures", "DefaultReplyPoll", "DefaultTopologyInterval",
	"ErrClosed", "ErrInvalidOptions", "ErrUnavailable",
	"Guard", "NewClient", "Option",
	"Subscriber", "Subscriber.Invalidate", "Subscriber.InvalidateAll",
	"Unreachable", "WithBreaker", "WithReplyPoll",
}

// TestRootExportsOnlyTheAppAPI parses the root package's non-test files and
// fails when they export anything beyond rootAPI, such as DoTracked,
// TrackedBatch, Direct or a breaker's Allow and Record.
func TestRootExportsOnlyTheAppAPI(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var got []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, exported(f)...)
	}
	slices.Sort(got)
	if !slices.Equal(got, rootAPI) {
		t.Fatalf("the root package exports\n%q\nwant\n%q", got, rootAPI)
	}
}

// exported lists the exported identifiers f declares, methods (and
// interface methods) as Type.Method.
func exported(f *ast.File) []string {
	var names []string
	add := func(name string) {
		if ast.IsExported(name) {
			names = append(names, name)
		}
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				add(d.Name.Name)
				continue
			}
			recv := d.Recv.List[0].Type
			if star, ok := recv.(*ast.StarExpr); ok {
				recv = star.X
			}
			if id, ok := recv.(*ast.Ident); ok && ast.IsExported(id.Name) && ast.IsExported(d.Name.Name) {
				names = append(names, id.Name+"."+d.Name.Name)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					add(s.Name.Name)
					if iface, ok := s.Type.(*ast.InterfaceType); ok && ast.IsExported(s.Name.Name) {
						for _, m := range iface.Methods.List {
							for _, n := range m.Names {
								if ast.IsExported(n.Name) {
									names = append(names, s.Name.Name+"."+n.Name)
								}
							}
						}
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						add(n.Name)
					}
				}
			}
		}
	}
	return names
}
