package line

import (
	"strings"
	"unicode/utf8"
)

// LINE platform limits.
const (
	// MaxTextUnits is the longest text message, in UTF-16 code units.
	MaxTextUnits = 5000
	// MaxMessagesPerRequest is the most messages one push or reply carries.
	MaxMessagesPerRequest = 5
)

// UTF16Len returns the length of s in UTF-16 code units, the unit LINE counts
// text in: a character outside the Basic Multilingual Plane (🍎) counts 2.
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		n += runeUnits(r)
	}
	return n
}

func runeUnits(r rune) int {
	if r >= 0x10000 && r <= utf8.MaxRune {
		return 2
	}
	return 1
}

// SplitText splits s into pieces of at most max UTF-16 code units, never
// inside a character (so never inside a surrogate pair). It prefers, in this
// order, a paragraph break, a line break, the end of a sentence (。．.!?！？),
// and a space, as long as that keeps the piece at least half full; otherwise
// it cuts at the limit. The blank space a piece is cut at is dropped; text
// that is blank as a whole yields no piece.
func SplitText(s string, max int) []string {
	if max < 2 {
		max = 2
	}
	s = strings.TrimSpace(s)
	var out []string
	for s != "" {
		if UTF16Len(s) <= max {
			out = append(out, s)
			break
		}
		cut := prefixLen(s, max) // bytes of s that fit
		head, rest := splitAt(s[:cut], s, max)
		if head = strings.TrimRight(head, " \t\r\n\u3000"); head == "" { // cannot happen with min fill ≥ 1
			head, rest = s[:cut], s[cut:]
		}
		out = append(out, head)
		s = strings.TrimLeft(rest, " \t\r\n\u3000")
	}
	return out
}

// prefixLen returns the byte length of the longest prefix of s that is at
// most max UTF-16 units long.
func prefixLen(s string, max int) int {
	n := 0
	for i, r := range s {
		u := runeUnits(r)
		if n+u > max {
			return i
		}
		n += u
	}
	return len(s)
}

// splitAt chooses where to cut s, whose first len(window) bytes fit.
func splitAt(window, s string, max int) (head, rest string) {
	minFill := max / 2
	ok := func(i int) bool { return i > 0 && UTF16Len(window[:i]) >= minFill }

	// A paragraph, then a line break: cut before it.
	for _, sep := range []string{"\n\n", "\n"} {
		if i := strings.LastIndex(window, sep); ok(i) {
			return s[:i], s[i:]
		}
	}
	// The end of a sentence: cut after the punctuation.
	best := -1
	for _, p := range []string{"。", "．", ". ", ".\n", "!", "?", "！", "？"} {
		if i := strings.LastIndex(window, p); i >= 0 {
			end := i + len(strings.TrimRight(p, " \n"))
			if end > best {
				best = end
			}
		}
	}
	if ok(best) {
		return s[:best], s[best:]
	}
	// A space.
	if i := strings.LastIndexAny(window, " \u3000\t"); ok(i) {
		return s[:i], s[i:]
	}
	return window, s[len(window):]
}
