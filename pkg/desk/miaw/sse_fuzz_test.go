package miaw_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/line-sf-bridge/bridge/pkg/desk/miaw"
)

// FuzzSSEReader parses arbitrary event streams (what Salesforce's or a
// proxy's bytes could be): no panic, termination, and the fields of every
// dispatched event are single lines (data lines are joined with "\n"
// only), with an id free of NUL.
func FuzzSSEReader(f *testing.F) {
	for _, s := range []string{
		"event: CONVERSATION_MESSAGE\nid: 1\ndata: {\"a\":1}\n\n",
		": ping\n\nevent: ping\ndata:\n\n",
		"\ufeffdata: one\r\ndata: two\r\n\r\n",
		"data: x\rid: 2\r\r",
		"retry: 1500\nid: a\x00b\ndata: y\n\n",
		"event\ndata\n\n", "data:no-space\n\n", "data: cut off",
		"id: 3\n\nevent: e\n\n", "\n\n\n", "",
	} {
		f.Add([]byte(s), "0")
	}
	f.Fuzz(func(t *testing.T, stream []byte, last string) {
		p := miaw.NewSSEReader(strings.NewReader(string(stream)))
		if !strings.ContainsAny(last, "\x00\r\n") {
			p.SetLastEventID(last)
		}
		for n := 0; ; n++ {
			if n > len(stream)+1 {
				t.Fatalf("more events (%d) than lines in %q", n, stream)
			}
			ev, err := p.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrTooLong) {
					t.Fatalf("Next: %v", err)
				}
				break
			}
			if ev.Type == "" || strings.ContainsAny(ev.Type, "\r\n") || strings.ContainsAny(ev.ID, "\x00\r\n") || strings.ContainsRune(ev.Data, '\r') {
				t.Fatalf("malformed event %+v from %q", ev, stream)
			}
			if p.Retry() < 0 {
				t.Fatalf("negative retry %v", p.Retry())
			}
		}
	})
}

// FuzzSSERoundTrip writes an event as a server would and reads it back.
func FuzzSSERoundTrip(f *testing.F) {
	f.Add("CONVERSATION_MESSAGE", "{\"a\":1}\nsecond line", "17")
	f.Add("", "", "")
	f.Add("ping", ": not a comment", "x y")
	f.Fuzz(func(t *testing.T, typ, data, id string) {
		if strings.ContainsAny(typ, "\r\n") || strings.ContainsAny(id, "\x00\r\n") || strings.ContainsRune(data, '\r') {
			return
		}
		var b strings.Builder
		if typ != "" {
			b.WriteString("event: " + typ + "\n")
		}
		b.WriteString("id: " + id + "\n")
		for _, l := range strings.Split(data, "\n") {
			b.WriteString("data: " + l + "\n")
		}
		b.WriteString("\n")
		ev, err := miaw.NewSSEReader(strings.NewReader(b.String())).Next()
		if err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return
			}
			t.Fatalf("Next(%q): %v", b.String(), err)
		}
		wantType := typ
		if wantType == "" {
			wantType = "message"
		}
		// A leading BOM of the stream is dropped, as EventSource does.
		if strings.HasPrefix(b.String(), "\ufeff") {
			return
		}
		if ev.Type != wantType || ev.Data != data || ev.ID != id || !ev.HasID {
			t.Fatalf("round trip of %q: got %+v", b.String(), ev)
		}
	})
}

// FuzzStreamEventDecode decodes arbitrary event data of every type.
func FuzzStreamEventDecode(f *testing.F) {
	types := []string{miaw.EventMessage, miaw.EventParticipantChanged, miaw.EventRoutingResult, miaw.EventTypingStarted,
		miaw.EventTypingStopped, miaw.EventDeliveryAck, miaw.EventReadAck, miaw.EventCloseConversation,
		miaw.EventSessionStatusChanged, miaw.EventQueuePosition, miaw.EventPing}
	for i, s := range []string{
		`{"conversationId":"c","conversationEntry":{"identifier":"e1","entryType":"Message","entryPayload":"{\"abstractMessage\":{\"staticContent\":{\"formatType\":\"Text\",\"text\":\"hi\"}}}","sender":{"role":"Agent"},"transcriptedTimestamp":5}}`,
		`{"conversationId":"c","conversationEntry":{"entryPayload":{"entries":[{"operation":"add","displayName":"A"}]}}}`,
		`{"conversationEntry":{"entryPayload":"not json"}}`, `{"conversationEntry":null}`, `[]`, `null`, ``,
	} {
		f.Add(types[i%len(types)], []byte(s))
	}
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		ed, err := miaw.StreamEvent{Type: typ, Data: data}.Decode()
		if err != nil {
			return
		}
		if _, err := json.Marshal(ed); err != nil {
			t.Fatalf("decoded event cannot be re-encoded: %v", err)
		}
		if ed.ConversationEntry != nil {
			var p miaw.MessagePayload
			if json.Unmarshal(ed.ConversationEntry.Payload, &p) == nil {
				_ = p.Text()
			}
		}
	})
}
