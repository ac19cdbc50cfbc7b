package liveagent_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent"
)

// BenchmarkDecodeMessages decodes Messages payloads and their messages: a
// typical one (one agent text), a captured 18-message one, and one that
// needs the lenient second pass (numbers sent as strings).
func BenchmarkDecodeMessages(b *testing.B) {
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"one-text", []byte(`{"messages":[{"type":"ChatMessage","message":{"text":"ご注文の商品は本日発送いたしました","name":"Agent","agentId":"0055j000001AbCd"}}],"sequence":7,"offset":97391055}`)},
		{"fixture18", benchFile(b, "messages_fixture18.json")},
		{"lenient", benchFile(b, "messages_lenient.json")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.body)))
			for b.Loop() {
				m, err := liveagent.DecodeMessages(tc.body)
				if err != nil {
					b.Fatal(err)
				}
				for _, msg := range m.Messages {
					_, _ = msg.Decode()
				}
			}
		})
	}
}

func benchFile(b *testing.B, name string) []byte {
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		b.Fatal(err)
	}
	return data
}
