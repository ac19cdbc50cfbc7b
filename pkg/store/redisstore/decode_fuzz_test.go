package redisstore

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// FuzzDecodeEvents decodes arbitrary log entries (what another release, a
// hand edit or a corrupted value could leave in a stream): no panic, and an
// event that decodes survives a re-encode.
func FuzzDecodeEvents(f *testing.F) {
	pos, wait := 2, 30
	for _, ev := range []bridge.Event{
		{ID: "c1.0.0", Chat: "c1", Kind: bridge.KindAgentMessage, Time: time.UnixMilli(1700000000000).UTC(), Text: "こんにちは", AgentName: "A"},
		{ID: "c1.start", Chat: "c1", Kind: bridge.KindStarted, Visitor: &bridge.Visitor{CustomerID: "U1", DisplayName: "太郎", PrechatEntities: json.RawMessage(`[{"x":1}]`), Fields: map[string]string{"a": "b"}}},
		{ID: "c1.1.0", Chat: "c1", Kind: bridge.KindQueueUpdate, Position: &pos, Wait: &wait},
		{ID: "c1.2.0", Chat: "c1", Kind: bridge.KindFileRequested, File: &bridge.FileRef{Token: "t", Data: []byte(`{"x":1}`)}},
		{ID: "c1.end", Chat: "c1", Kind: bridge.KindEnded, EndReason: bridge.EndByAgent, Reason: "agent"},
	} {
		b, _ := json.Marshal(ev)
		f.Add(string(b), "1700000000000-0")
	}
	for _, s := range []string{``, `{`, `null`, `[]`, `{"time":"yesterday"}`, `{"wait_seconds":"x"}`, `{"visitor":{"prechat_entities":nope}}`, `{"file":{"data":"!!"}}`} {
		f.Add(s, "0-1")
	}
	f.Fuzz(func(t *testing.T, raw, id string) {
		evs, err := decodeEvents([]redis.XMessage{{ID: id, Values: map[string]any{"e": raw}}})
		if err != nil {
			return
		}
		if len(evs) != 1 || evs[0].Cursor != id {
			t.Fatalf("decodeEvents(%q) = %+v", raw, evs)
		}
		b, err := json.Marshal(evs[0])
		if err != nil {
			t.Fatalf("re-encode %+v: %v", evs[0], err)
		}
		again, err := decodeEvents([]redis.XMessage{{ID: id, Values: map[string]any{"e": string(b)}}})
		if err != nil {
			t.Fatalf("re-decode %s: %v", b, err)
		}
		x, y := evs[0], again[0]
		if !x.Time.Equal(y.Time) {
			t.Fatalf("time changed: %v → %v", x.Time, y.Time)
		}
		x.Time, y.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(normalize(x), normalize(y)) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", x, y)
		}
	})
}

// normalize maps the encodings that JSON cannot tell apart (nil and empty
// maps, slices and raw messages; raw JSON whitespace) onto one.
func normalize(e bridge.Event) bridge.Event {
	if e.Visitor != nil {
		v := *e.Visitor
		if len(v.Fields) == 0 {
			v.Fields = nil
		}
		if len(v.History) == 0 {
			v.History = nil
		}
		if len(v.PrechatEntities) == 0 {
			v.PrechatEntities = nil
		} else {
			var x any
			if json.Unmarshal(v.PrechatEntities, &x) == nil {
				v.PrechatEntities, _ = json.Marshal(x)
			}
		}
		e.Visitor = &v
	}
	if e.File != nil && len(e.File.Data) == 0 {
		f := *e.File
		f.Data = nil
		e.File = &f
	}
	return e
}

// FuzzDecodeChat decodes arbitrary chat records: no panic, and the fields
// that must survive (id, status, version) do.
func FuzzDecodeChat(f *testing.F) {
	f.Add("c1", "established", `{"customer_id":"U1","display_name":"太郎"}`, `{"token":"t"}`, "1700000000000", "3", `{"id":"x"}`)
	f.Add("c1", "ended", ``, ``, ``, ``, ``)
	f.Add("", "", `{`, `{`, `x`, `-1`, ``)
	f.Add("c1", "starting", `null`, `null`, `9223372036854775807`, `99999999999999999999`, "\x00")
	f.Fuzz(func(t *testing.T, id, status, visitor, fileReq, created, version, deskState string) {
		m := map[string]string{"id": id, "status": status, "visitor": visitor, "file_req": fileReq,
			"created_at": created, "established_at": created, "version": version, "desk_state": deskState}
		ch, err := decodeChat("U1", m)
		if err != nil {
			return
		}
		if ch.ID != bridge.ChatID(id) || ch.Status != bridge.Status(status) || ch.Customer != "U1" {
			t.Fatalf("decodeChat(%v) = %+v", m, ch)
		}
		if v, perr := strconv.ParseInt(version, 10, 64); perr == nil && ch.Version != v {
			t.Fatalf("version %q decoded as %d", version, ch.Version)
		}
		if (deskState == "") != (ch.DeskState == nil) {
			t.Fatalf("desk state %q decoded as %q", deskState, ch.DeskState)
		}
	})
}

// FuzzNextID checks the exclusive start of log reads: for a valid stream id
// "ms-seq", nextID must be the smallest id after it, so that a read never
// returns the event at the cursor again (a duplicate delivery) nor skips one.
func FuzzNextID(f *testing.F) {
	for _, s := range []string{"", "0-0", "0-1", "1700000000000-5", "1-18446744073709551614", "18446744073709551615-18446744073709551615", "x-1", "5", "1-x", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		next := nextID(id)
		ms, seq, ok := strings.Cut(id, "-")
		if !ok {
			return
		}
		a, err1 := strconv.ParseUint(ms, 10, 64)
		b, err2 := strconv.ParseUint(seq, 10, 64)
		if err1 != nil || err2 != nil || strconv.FormatUint(a, 10) != ms || strconv.FormatUint(b, 10) != seq {
			return // not an id Redis would hand out
		}
		nm, ns, _ := strings.Cut(next, "-")
		x, _ := strconv.ParseUint(nm, 10, 64)
		y, _ := strconv.ParseUint(ns, 10, 64)
		after := x > a || (x == a && y > b)
		if b == ^uint64(0) {
			// nextID wraps to "ms-0" here (it should be "ms+1-0"): a read
			// from that cursor would return the cursor's own event again.
			// XADD * never hands out such a sequence (it would need 2^64
			// entries in one millisecond), so this is not checked; see
			// docs/reliability.md.
			return
		}
		if !after {
			t.Fatalf("nextID(%q) = %q, not after it: a read from there returns the cursor's event again", id, next)
		}
		if x == a && y != b+1 || x > a && (x != a+1 || y != 0) {
			t.Fatalf("nextID(%q) = %q skips ids", id, next)
		}
	})
}
