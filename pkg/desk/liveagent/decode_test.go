package liveagent_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the decoded payload (rerun with -update if intended)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

type decodedEvent struct {
	Type   string `json:"type"`
	GoType string `json:"goType"`
	Value  any    `json:"value"`
	Error  string `json:"error,omitempty"`
}

// TestDecodeGolden decodes real-capture-shaped payloads and compares the typed result with
// golden files.
func TestDecodeGolden(t *testing.T) {
	for _, name := range []string{
		"messages_fixture18", "messages_seq0", "messages_lenient", "reconnect", "availability", "switchserver",
	} {
		t.Run(name, func(t *testing.T) {
			m, err := liveagent.DecodeMessages(readTestdata(t, name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			out := struct {
				Sequence int64          `json:"sequence"`
				Offset   int64          `json:"offset"`
				Events   []decodedEvent `json:"events"`
			}{Sequence: m.Sequence, Offset: m.Offset}
			for _, msg := range m.Messages {
				v, err := msg.Decode()
				ev := decodedEvent{Type: msg.Type, GoType: fmt.Sprintf("%T", v), Value: v}
				if err != nil {
					ev.Error = err.Error()
				}
				out.Events = append(out.Events, ev)
			}
			got, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name+".golden.json", append(got, '\n'))
		})
	}
}

func TestDecodeFixture18(t *testing.T) {
	m, err := liveagent.DecodeMessages(readTestdata(t, "messages_fixture18.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ChatRequestSuccess", "QueueUpdate", "ChatEstablished",
		"AgentTyping", "ChatMessage", "AgentNotTyping",
		"AgentTyping", "AgentTyping", "ChatMessage", "AgentNotTyping",
		"AgentTyping", "AgentTyping", "ChatMessage", "AgentNotTyping",
		"AgentTyping", "AgentTyping", "ChatMessage", "AgentNotTyping",
	}
	if got := types(m); !equal(got, want) || m.Sequence != 17 || m.Offset != 1636522046 {
		t.Fatalf("got %v seq %d offset %d", got, m.Sequence, m.Offset)
	}
	var texts []string
	for _, msg := range m.Messages {
		v, err := msg.Decode()
		if err != nil {
			t.Fatalf("%s: %v", msg.Type, err)
		}
		switch p := v.(type) {
		case liveagent.ChatMessage:
			texts = append(texts, p.Text)
		case liveagent.AgentTyping:
			if p.AgentID != "9d1c2b3a-4e5f-6a7b-8c9d-0e1f2a3b4c5d" {
				t.Errorf("AgentTyping.AgentID = %q", p.AgentID)
			}
		case liveagent.ChatRequestSuccess:
			if p.EstimatedWaitTime != 9 || p.GeoLocation == nil || p.GeoLocation.CountryCode != "JP" || p.ConnectionTimeout != 150000 {
				t.Errorf("ChatRequestSuccess = %+v", p)
			}
		}
	}
	if !equal(texts, []string{"はい", "お手伝いします", "ご用件は?", "お待たせしました"}) {
		t.Errorf("texts = %q", texts)
	}
}

func TestDecodeSequenceZeroAndWaitUnknown(t *testing.T) {
	m, err := liveagent.DecodeMessages(readTestdata(t, "messages_seq0.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Sequence != 0 || m.Offset != 97382097 || len(m.Messages) != 1 {
		t.Fatalf("envelope = %+v", m)
	}
	p := decode[liveagent.ChatRequestSuccess](t, m.Messages[0])
	if p.EstimatedWaitTime != -1 || p.QueuePosition != 2 || len(p.CustomDetails) != 1 || p.SensitiveDataRules == nil {
		t.Errorf("ChatRequestSuccess = %+v", p)
	}
}

func TestDecodeLenient(t *testing.T) {
	m, err := liveagent.DecodeMessages(readTestdata(t, "messages_lenient.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Sequence != 2 || m.Offset != 97391055 {
		t.Fatalf("string sequence/offset decoded as %d/%d", m.Sequence, m.Offset)
	}
	byType := map[string]liveagent.Message{}
	for _, msg := range m.Messages {
		byType[msg.Type] = msg
	}
	if q := decode[liveagent.QueueUpdate](t, byType["QueueUpdate"]); q.Position != 2 || q.EstimatedWaitTime != -1 {
		t.Errorf("QueueUpdate = %+v", q)
	}
	est := decode[liveagent.ChatEstablished](t, byType["ChatEstablished"])
	if want := (liveagent.ChasitorIdleTimeout{IsEnabled: true, WarningTime: 60, Timeout: 120}); est.ChasitorIdleTimeout != want || est.SneakPeekEnabled {
		t.Errorf("ChatEstablished = %+v", est)
	}
	decode[liveagent.AgentNotTyping](t, byType["AgentNotTyping"])
	decode[liveagent.AgentDisconnect](t, byType["AgentDisconnect"])
	if cm := decode[liveagent.ChatMessage](t, byType["ChatMessage"]); cm.Text != "12345" || cm.Schedule == nil {
		t.Errorf("ChatMessage = %+v", cm)
	}
	sd := decode[liveagent.ChasitorSessionData](t, byType["ChasitorSessionData"])
	if len(sd.ChatMessages) != 2 || sd.ChatMessages[0].Timestamp != 1629334776994 || sd.ChatMessages[1].Sequence != 2 {
		t.Errorf("ChasitorSessionData = %+v", sd)
	}
	u, err := byType["RichMessage"].Decode()
	if err != nil {
		t.Fatalf("unknown type must not be an error: %v", err)
	}
	if unk, ok := u.(liveagent.Unknown); !ok || unk.Type != "RichMessage" || !bytes.Contains(unk.Raw, []byte("ChatWindowButton")) {
		t.Errorf("unknown = %#v", u)
	}
}

func TestDecodeBadPayload(t *testing.T) {
	v, err := liveagent.Message{Type: "QueueUpdate", Message: json.RawMessage(`{"position":"second"}`)}.Decode()
	if err == nil {
		t.Fatal("want an error for a non-numeric position")
	}
	if _, ok := v.(liveagent.Unknown); !ok {
		t.Errorf("value = %T, want Unknown", v)
	}
	if _, err := liveagent.DecodeMessages([]byte(`{"messages":[`)); err == nil {
		t.Error("truncated JSON accepted")
	}
}

func TestSessionJSON(t *testing.T) {
	for _, tc := range []struct {
		file string
		want time.Duration
		aff  string
	}{
		{"sessionid_number.json", 40 * time.Second, "878a1fa0"},
		{"sessionid_string.json", 30 * time.Second, "73061fa0"},
		{"sessionid_no_timeout.json", liveagent.DefaultClientPollTimeout, "0011aabb"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var s liveagent.Session
			if err := json.Unmarshal(readTestdata(t, tc.file), &s); err != nil {
				t.Fatal(err)
			}
			if s.ClientPollTimeout != tc.want || s.AffinityToken != tc.aff || s.ID == "" || s.Key == "" {
				t.Fatalf("session = %#v (timeout %v)", s, s.ClientPollTimeout)
			}
			// Round trip through the stored form.
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			var back liveagent.Session
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back != s {
				t.Errorf("round trip: %s → %#v", b, back)
			}
			if !bytes.Contains(b, fmt.Appendf(nil, `"clientPollTimeout":%d`, int(tc.want.Seconds()))) {
				t.Errorf("stored form %s: clientPollTimeout not in seconds", b)
			}
		})
	}
	var s liveagent.Session
	if err := json.Unmarshal([]byte(`{"id":"a","key":"a!1!x","affinityToken":"1","clientPollTimeout":"soon"}`), &s); err == nil {
		t.Error("non-numeric clientPollTimeout accepted")
	}
	if err := json.Unmarshal([]byte(`{"id":"a","key":"a!1!x","clientPollTimeout":0.25}`), &s); err != nil || s.ClientPollTimeout != 250*time.Millisecond {
		t.Errorf("fractional seconds: %v %v", s.ClientPollTimeout, err)
	}
	if s.ChatKey() != "a" {
		t.Errorf("ChatKey = %q", s.ChatKey())
	}
}
