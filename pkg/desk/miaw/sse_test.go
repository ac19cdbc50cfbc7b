package miaw_test

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/miaw"
)

func TestSSEReader(t *testing.T) {
	type ev struct {
		typ, data, id string
		hasID         bool
	}
	cases := []struct {
		name  string
		in    string
		want  []ev
		retry time.Duration
	}{
		{"simple", "event: CONVERSATION_MESSAGE\nid: 7\ndata: {\"a\":1}\n\n",
			[]ev{{"CONVERSATION_MESSAGE", `{"a":1}`, "7", true}}, 0},
		{"default type", "data: x\n\n", []ev{{"message", "x", "", false}}, 0},
		{"multi-line data", "data: line 1\ndata: line 2\ndata:\n\n", []ev{{"message", "line 1\nline 2\n", "", false}}, 0},
		{"CRLF", "event: a\r\ndata: x\r\n\r\nevent: b\r\ndata: y\r\n\r\n", []ev{{"a", "x", "", false}, {"b", "y", "", false}}, 0},
		{"lone CR", "data: x\r\rdata: y\r\r", []ev{{"message", "x", "", false}, {"message", "y", "", false}}, 0},
		{"mixed line ends", "data: a\r\ndata: b\rdata: c\n\r\n", []ev{{"message", "a\nb\nc", "", false}}, 0},
		{"comments and heartbeats", ": connected\n\n:ping\ndata: x\n: in between\n\n: bye\n\n", []ev{{"message", "x", "", false}}, 0},
		{"ping event", "event: ping\ndata: 0\n\n", []ev{{"ping", "0", "", false}}, 0},
		{"id persists", "id: 10\ndata: a\n\ndata: b\n\nid:\ndata: c\n\n",
			[]ev{{"message", "a", "10", true}, {"message", "b", "10", false}, {"message", "c", "", true}}, 0},
		{"id with NUL ignored", "id: 5\ndata: a\n\nid: 6\x007\ndata: b\n\n", []ev{{"message", "a", "5", true}, {"message", "b", "5", false}}, 0},
		{"space handling", "data:x\ndata:  y\n\n", []ev{{"message", "x\n y", "", false}}, 0},
		{"field without colon", "data\n\n", []ev{{"message", "", "", false}}, 0},
		{"no data, no event", "event: lonely\n\nid: 3\n\n", nil, 0},
		{"event type resets", "event: a\n\ndata: x\n\n", []ev{{"message", "x", "", false}}, 0},
		{"unknown fields ignored", "foo: bar\ndata: x\nbaz\n\n", []ev{{"message", "x", "", false}}, 0},
		{"retry", "retry: 1500\ndata: x\n\nretry: soon\n\n", []ev{{"message", "x", "", false}}, 1500 * time.Millisecond},
		{"BOM", "\ufeffdata: x\n\n", []ev{{"message", "x", "", false}}, 0},
		{"incomplete event at EOF is discarded", "data: x\n\ndata: cut", []ev{{"message", "x", "", false}}, 0},
		{"unicode", "data: こんにちは\n\n", []ev{{"message", "こんにちは", "", false}}, 0},
	}
	for _, tc := range cases {
		for _, oneByte := range []bool{false, true} {
			name := tc.name
			if oneByte {
				name += "/one byte reads"
			}
			t.Run(name, func(t *testing.T) {
				var r io.Reader = strings.NewReader(tc.in)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				p := miaw.NewSSEReader(r)
				var got []ev
				for {
					e, err := p.Next()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, ev{e.Type, e.Data, e.ID, e.HasID})
				}
				if len(got) != len(tc.want) {
					t.Fatalf("got %+v, want %+v", got, tc.want)
				}
				for i := range got {
					if got[i] != tc.want[i] {
						t.Fatalf("event %d = %+v, want %+v", i, got[i], tc.want[i])
					}
				}
				if p.Retry() != tc.retry {
					t.Fatalf("retry = %v, want %v", p.Retry(), tc.retry)
				}
			})
		}
	}
}

func TestSSEReaderInitialIDAndLongLine(t *testing.T) {
	p := miaw.NewSSEReader(strings.NewReader("data: x\n\n"))
	p.SetLastEventID("42")
	e, err := p.Next()
	if err != nil || e.ID != "42" || e.HasID {
		t.Fatalf("event %+v, %v", e, err)
	}
	long := "data: " + strings.Repeat("a", 2<<20) + "\n\n"
	if _, err := miaw.NewSSEReader(strings.NewReader(long)).Next(); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("a 2 MiB line = %v, want an error", err)
	}
}

func TestEntryPayloadForms(t *testing.T) {
	const obj = `{"entryType":"Message","abstractMessage":{"messageType":"ChoicesMessage","choices":{"formatType":"QuickReplies","text":"Pick one","optionItems":[{"titleItem":{"title":"English"}},{"titleItem":{"title":"日本語"}}]}}}`
	for name, raw := range map[string]string{
		"object": `{"identifier":"e1","entryType":"Message","entryPayload":` + obj + `,"sender":{"role":"Chatbot"},"transcriptedTimestamp":5}`,
		"string": `{"identifier":"e1","entryType":"Message","entryPayload":` + quote(obj) + `,"sender":{"role":"Chatbot"},"transcriptedTimestamp":5}`,
	} {
		t.Run(name, func(t *testing.T) {
			ed, err := miaw.StreamEvent{Type: miaw.EventMessage, Data: []byte(`{"conversationId":"c","conversationEntry":` + raw + `}`)}.Decode()
			if err != nil {
				t.Fatal(err)
			}
			var p miaw.MessagePayload
			if err := json.Unmarshal(ed.ConversationEntry.Payload, &p); err != nil {
				t.Fatal(err)
			}
			if got := p.Text(); got != "Pick one\n1. English\n2. 日本語" {
				t.Fatalf("text = %q", got)
			}
		})
	}
	att := miaw.MessagePayload{AbstractMessage: miaw.AbstractMessage{StaticContent: &miaw.StaticContent{
		FormatType: "Attachments", Text: "see file", Attachments: []miaw.Attachment{{Name: "a.pdf", URL: "https://x/a.pdf"}, {Name: "b.png"}},
	}}}
	if got := att.Text(); got != "see file\na.pdf: https://x/a.pdf\nb.png" {
		t.Fatalf("attachments text = %q", got)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
