package codec_test

import (
	"strings"
	"time"
)

// user is the ~1 KB value of tests and benchmarks: strings, numbers, a
// slice, a map and a time.
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
		Email: "ada.lovelace@analytical-engine.example.com",
		Bio: "Mathematician and writer, chiefly known for her work on Charles Babbage's " +
			"proposed mechanical general-purpose computer, the Analytical Engine. She was the " +
			"first to recognise that the machine had applications beyond pure calculation, and " +
			"published the first algorithm intended to be carried out by such a machine. " +
			"As a result, she is often regarded as the first computer programmer. Her notes " +
			"on the engine, appended to a translation of an article by Luigi Menabrea, were " +
			"three times longer than the article itself.",
		Age:   36,
		Score: 99.5,
		Tags:  []string{"math", "poetry", "engines", "notes", "bernoulli", "london", "science", "history", "translation", "computing"},
		Prefs: map[string]string{
			"theme": "dark", "lang": "en-GB", "tz": "Europe/London", "newsletter": "weekly",
			"editor": "vim", "font": "serif", "density": "compact", "notifications": "email-only",
		},
		CreatedAt: time.Date(1843, 9, 5, 12, 30, 0, 123456789, time.UTC),
	}
}

// userSamples are the zero value, the ~1 KB user and a ~10 KB user that
// every Compress threshold compresses.
func userSamples() []user {
	big := sampleUser()
	big.Bio = strings.Repeat(big.Bio+" ", 12)
	return []user{{}, sampleUser(), big}
}

func stringSamples() []string {
	return []string{"", "x", "héllo, 世界", "\x00\xC1\x01\x01", strings.Repeat("typecache ", 300)}
}

func bytesSamples() [][]byte {
	return [][]byte{{}, {0}, {0xC1, 0x04, 0x01}, []byte(strings.Repeat("bytes ", 500))}
}
