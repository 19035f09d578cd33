package codec_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/typecache/typecache/codec"
)

// user is the ~1 KB value used by tests and benchmarks.
type user struct {
	ID        int64             `json:"id" msgpack:"id"`
	Name      string            `json:"name" msgpack:"name"`
	Email     string            `json:"email" msgpack:"email"`
	Bio       string            `json:"bio" msgpack:"bio"`
	Age       int               `json:"age" msgpack:"age"`
	Admin     bool              `json:"admin" msgpack:"admin"`
	Score     float64           `json:"score" msgpack:"score"`
	Tags      []string          `json:"tags" msgpack:"tags"`
	Prefs     map[string]string `json:"prefs" msgpack:"prefs"`
	CreatedAt time.Time         `json:"created_at" msgpack:"created_at"`
}

func sampleUser() user {
	return user{
		ID:    4242,
		Name:  "Ada Lovelace",
		Email: "ada@example.com",
		Bio: "Mathematician and writer, chiefly known for her work on Charles Babbage's " +
			"proposed mechanical general-purpose computer, the Analytical Engine. She was the " +
			"first to recognise that the machine had applications beyond pure calculation, and " +
			"published the first algorithm intended to be carried out by such a machine. " +
			"As a result, she is often regarded as the first computer programmer.",
		Age:   36,
		Score: 99.5,
		Tags:  []string{"math", "poetry", "engines", "notes", "bernoulli", "london", "science", "history"},
		Prefs: map[string]string{
			"theme": "dark", "lang": "en-GB", "tz": "Europe/London", "newsletter": "weekly",
			"editor": "vim", "font": "serif", "density": "compact", "notifications": "email-only",
		},
		CreatedAt: time.Date(1843, 9, 5, 12, 30, 0, 123456789, time.UTC),
	}
}

func TestRoundTripBasic(t *testing.T) {
	u := sampleUser()
	for _, c := range []codec.Codec[user]{codec.JSON[user](), codec.MsgPack[user]()} {
		b, err := c.Append([]byte("prefix"), u)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Decode(b[len("prefix"):])
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(u, got); diff != "" {
			t.Fatalf("%T: -want +got\n%s", c, diff)
		}
		t.Logf("%T: %d bytes", c, len(b)-len("prefix"))
	}
	b, _ := codec.String().Append(nil, "hello")
	if _, err := codec.Bytes().Decode(b); !errors.Is(err, codec.ErrMismatch) {
		t.Fatalf("Bytes decoded String frame: %v", err)
	} else {
		t.Log(err)
	}
}
