package server

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// The Django original answered with json.dumps defaults: ", " and ": "
// separators and every character outside printable ASCII escaped as \uXXXX
// (lowercase hex, surrogate pairs above U+FFFF). Byte-comparing clients see
// exactly that here.

// field is one key of a flat JSON object; Value is nil (null), a string, or
// a pre-encoded JSON value (raw).
type field struct {
	Key   string
	Value *string
	Raw   string
}

func str(s string) *string { return &s }

// pyObject encodes fields as Python's json.dumps would.
func pyObject(fields ...field) []byte {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteString(", ")
		}
		pyString(&b, f.Key)
		b.WriteString(": ")
		switch {
		case f.Raw != "":
			b.WriteString(f.Raw)
		case f.Value == nil:
			b.WriteString("null")
		default:
			pyString(&b, *f.Value)
		}
	}
	b.WriteByte('}')
	return []byte(b.String())
}

func pyString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= 0x20 && r <= 0x7e:
			b.WriteRune(r)
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case r > 0xffff:
			r -= 0x10000
			hex4(b, 0xd800+(r>>10))
			hex4(b, 0xdc00+(r&0x3ff))
		default:
			hex4(b, r)
		}
	}
	b.WriteByte('"')
}

func hex4(b *strings.Builder, r rune) {
	h := strconv.FormatInt(int64(r), 16)
	b.WriteString(`\u`)
	b.WriteString(strings.Repeat("0", 4-len(h)))
	b.WriteString(h)
}
