package codectest_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/typecache/typecache/codec"
	"github.com/typecache/typecache/codec/codectest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type point struct{ X, Y int }

// labeled has an unexported field, which go-cmp refuses to compare
// unless told how.
type labeled struct {
	Name string
	note string
}

var points = []point{{}, {X: 1, Y: -2}, {X: 1 << 40, Y: 7}}

// unframedJSON writes bare JSON: raw JSON from anyone decodes.
type unframedJSON struct{}

func (unframedJSON) Append(dst []byte, v point) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(dst, b...), err
}

func (unframedJSON) Decode(data []byte) (point, error) {
	var p point
	if err := json.Unmarshal(data, &p); err != nil {
		return point{}, errors.Join(codec.ErrMismatch, err)
	}
	return p, nil
}

// headerOnly frames JSON with a header but no checksum, so a flipped
// payload bit can decode to another point.
type headerOnly struct{}

const headerOnlyMagic = "PT1"

func (headerOnly) Append(dst []byte, v point) ([]byte, error) {
	return unframedJSON{}.Append(append(dst, headerOnlyMagic...), v)
}

func (headerOnly) Decode(data []byte) (point, error) {
	rest, ok := strings.CutPrefix(string(data), headerOnlyMagic)
	if !ok {
		return point{}, codec.ErrMismatch
	}
	return unframedJSON{}.Decode([]byte(rest))
}

// retainingBytes returns a slice of its input instead of a copy.
type retainingBytes struct{ codec.Codec[[]byte] }

func (r retainingBytes) Decode(data []byte) ([]byte, error) {
	v, err := r.Codec.Decode(data)
	if err != nil {
		return nil, err
	}
	return data[3 : 3+len(v)], nil
}

// panicsOnShortInput indexes without checking the length.
type panicsOnShortInput struct{ codec.Codec[point] }

func (p panicsOnShortInput) Decode(data []byte) (point, error) {
	_ = data[2]
	return p.Codec.Decode(data)
}

// bareErrors returns errors that wrap no codec sentinel.
type bareErrors struct{ codec.Codec[point] }

func (b bareErrors) Decode(data []byte) (point, error) {
	v, err := b.Codec.Decode(data)
	if err != nil {
		return v, errors.New("cannot decode")
	}
	return v, nil
}

// partialOnError returns what it decoded so far along with its error.
type partialOnError struct{ codec.Codec[point] }

func (p partialOnError) Decode(data []byte) (point, error) {
	v, err := p.Codec.Decode(data)
	if err != nil {
		return point{X: 99}, err
	}
	return v, nil
}

// helperCases are run by TestHelperProcess in a child process, so a
// failing codectest.Run can be observed from outside.
var helperCases = map[string]func(t *testing.T){
	"json":                func(t *testing.T) { codectest.Run(t, codec.JSON[point](), points) },
	"unframed":            func(t *testing.T) { codectest.Run(t, unframedJSON{}, points) },
	"header-only":         func(t *testing.T) { codectest.Run(t, headerOnly{}, points) },
	"header-only-allowed": func(t *testing.T) { codectest.Run(t, headerOnly{}, points, codectest.AllowUndetectedDamage()) },
	"retaining":           func(t *testing.T) { codectest.Run(t, retainingBytes{codec.Bytes()}, [][]byte{[]byte("abc")}) },
	"panics":              func(t *testing.T) { codectest.Run(t, panicsOnShortInput{codec.MsgPack[point]()}, points) },
	"bare-errors":         func(t *testing.T) { codectest.Run(t, bareErrors{codec.MsgPack[point]()}, points) },
	"partial-value":       func(t *testing.T) { codectest.Run(t, partialOnError{codec.MsgPack[point]()}, points) },
	"compare-options": func(t *testing.T) {
		codectest.Run(t, codec.JSON[labeled](), []labeled{{Name: "a"}}, codectest.CompareOptions(cmpopts.IgnoreUnexported(labeled{})))
	},
	"encrypted-compressed": func(t *testing.T) { codectest.Run(t, encryptedCompressed(t), points) },
}

func encryptedCompressed(t *testing.T) codec.Codec[point] {
	inner, err := codec.Compress(codec.JSON[point](), codec.CompressOptions{Threshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.Encrypt(inner, codec.EncryptOptions{Keys: []codec.EncryptionKey{{ID: 0, Secret: make([]byte, 16)}}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const caseEnv = "CODECTEST_HELPER_CASE"

// TestHelperProcess runs one helper case when started by TestRunVerdicts.
func TestHelperProcess(t *testing.T) {
	name := os.Getenv(caseEnv)
	if name == "" {
		t.Skip("runs only as a child of TestRunVerdicts")
	}
	helperCases[name](t)
}

// TestRunVerdicts checks that Run passes correct codecs and fails each kind
// of broken codec with a message that says what is wrong.
func TestRunVerdicts(t *testing.T) {
	tests := []struct {
		name     string
		wantPass bool
		wantOut  string
	}{
		{"json", true, ""},
		{"encrypted-compressed", true, ""},
		{"compare-options", true, ""},
		{"header-only-allowed", true, ""},
		{"unframed", false, "raw JSON of sample 0: Decode(7b2258223a302c2259223a307d) = {X:0 Y:0}, nil; want an error"},
		{"header-only", false, "--- FAIL: TestHelperProcess/corrupted"},
		{"retaining", false, "Decode retained the input"},
		{"panics", false, "panicked: runtime error: index out of range"},
		{"bare-errors", false, "wraps neither codec.ErrMismatch nor codec.ErrCorrupt"},
		{"partial-value", false, "returned {X:99 Y:0} with error"},
	}
	if len(tests) != len(helperCases) {
		t.Fatalf("%d verdicts for %d helper cases", len(tests), len(helperCases))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.v")
			cmd.Env = append(os.Environ(), caseEnv+"="+tt.name)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatal(err)
			}
			if passed := err == nil; passed != tt.wantPass {
				t.Fatalf("Run passed = %v, want %v; output:\n%s", passed, tt.wantPass, out)
			}
			if !strings.Contains(string(out), tt.wantOut) {
				t.Fatalf("output lacks %q:\n%s", tt.wantOut, out)
			}
		})
	}
}
