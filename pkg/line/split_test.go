package line

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestUTF16Len(t *testing.T) {
	for s, want := range map[string]int{"": 0, "abc": 3, "あいう": 3, "🍎": 2, "a🍎b": 4, "👨‍👩‍👧": 8} {
		if got := UTF16Len(s); got != want {
			t.Errorf("UTF16Len(%q) = %d, want %d", s, got, want)
		}
	}
}

// checkPieces checks the invariants every split must keep.
func checkPieces(t *testing.T, in string, pieces []string, max int) {
	t.Helper()
	for i, p := range pieces {
		if n := UTF16Len(p); n > max || n == 0 {
			t.Errorf("piece %d has %d units (max %d)", i, n, max)
		}
		if !utf8.ValidString(p) || strings.ContainsRune(p, utf8.RuneError) {
			t.Errorf("piece %d is broken: %q", i, p)
		}
	}
	strip := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\t' || r == '\r' || r == '\u3000' {
				return -1
			}
			return r
		}, s)
	}
	if got, want := strip(strings.Join(pieces, "")), strip(in); got != want {
		t.Errorf("pieces lose or add text: %d vs %d runes", len([]rune(got)), len([]rune(want)))
	}
}

func TestSplitTextBoundaries(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"fits", "hello world", 20, []string{"hello world"}},
		{"blank", "  \n ", 20, nil},
		{"paragraph", "first para here.\n\nsecond para", 20, []string{"first para here.", "second para"}},
		{"line", "line one is long\nline two", 20, []string{"line one is long", "line two"}},
		{"sentence ja", "これは一文目です。これは二文目の文章です", 12, []string{"これは一文目です。", "これは二文目の文章です"}},
		{"sentence en", "It works! Does it really", 12, []string{"It works!", "Does it", "really"}},
		{"space", "aaaa bbbb cccc dddd", 10, []string{"aaaa bbbb", "cccc dddd"}},
		{"hard cut", "abcdefghijklmnop", 6, []string{"abcdef", "ghijkl", "mnop"}},
		{"early break ignored", "a\nbcdefghijklmno", 6, []string{"a\nbcde", "fghijk", "lmno"}},
		{"surrogate at limit", "abcd🍎efgh", 5, []string{"abcd", "🍎efg", "h"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SplitText(tc.in, tc.max)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Errorf("SplitText(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
			checkPieces(t, tc.in, got, tc.max)
		})
	}
}

func TestSplitTextLongEmoji(t *testing.T) {
	// 4999 units, then emoji straddling every 5000-unit limit.
	in := strings.Repeat("a", 4999) + strings.Repeat("🍎", 3000) + strings.Repeat("あ", 6000)
	pieces := SplitText(in, MaxTextUnits)
	checkPieces(t, in, pieces, MaxTextUnits)
	if pieces[0] != strings.Repeat("a", 4999) {
		t.Errorf("first piece should stop before the emoji: %d units", UTF16Len(pieces[0]))
	}
	if got, want := len(pieces), 4; got != want {
		t.Errorf("%d pieces, want %d", got, want)
	}
}
