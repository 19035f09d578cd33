package observe_test

import (
	"testing"

	"github.com/typecache/typecache/internal/observe"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// observer stands for a package's Observer interface.
type observer interface{ Event() string }

// plain is an observer without WithName.
type plain string

func (p plain) Event() string { return string(p) }

// naming is an observer with WithName: it returns the observer of that
// name, or nil for the names in skip, and counts its calls.
type naming struct {
	skip  string
	calls *int
}

func (naming) Event() string { return "unnamed" }

func (n naming) WithName(name string) observer {
	*n.calls++
	if name == n.skip {
		return nil
	}
	return plain("named " + name)
}

func TestNamed(t *testing.T) {
	none := plain("none")
	tests := []struct {
		name      string
		o         observer
		instance  string
		want      observer
		wantCalls int
	}{
		{"plain observer: itself", plain("mine"), "users", plain("mine"), 0},
		{"nil observer: nil", nil, "users", nil, 0},
		{"naming observer: what WithName returns", naming{}, "users", plain("named users"), 1},
		{"naming observer returning nil: none", naming{skip: "users"}, "users", none, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			if n, ok := tt.o.(naming); ok {
				n.calls = &calls
				tt.o = n
			}
			if got := observe.Named(tt.o, tt.instance, observer(none)); got != tt.want || calls != tt.wantCalls {
				t.Errorf("Named = %v after %d WithName calls, want %v after %d", got, calls, tt.want, tt.wantCalls)
			}
		})
	}
}
