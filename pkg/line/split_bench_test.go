package line_test

import (
	"strings"
	"testing"

	"github.com/line-sf-bridge/bridge/pkg/line"
)

// BenchmarkSplitText splits agent texts for LINE's 5000-unit limit: the
// common short text (no split), a long Japanese text, and a worst case
// without any break.
func BenchmarkSplitText(b *testing.B) {
	for _, tc := range []struct{ name, text string }{
		{"short", "ご注文の商品は本日発送いたしました。"},
		{"japanese-12k", strings.Repeat("お問い合わせありがとうございます。担当者より折り返しご連絡いたします。\n", 340)},
		{"nobreak-20k", strings.Repeat("あ", 20000)},
		{"emoji-6k", strings.Repeat("🍎", 6000)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.text)))
			for b.Loop() {
				_ = line.SplitText(tc.text, line.MaxTextUnits)
			}
		})
	}
}

func BenchmarkUTF16Len(b *testing.B) {
	s := strings.Repeat("お問い合わせ🍎", 100)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		_ = line.UTF16Len(s)
	}
}
