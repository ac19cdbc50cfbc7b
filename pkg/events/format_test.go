package events

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

type goldenCase struct {
	golden string // testdata/golden/<golden>.json
	seed   string // testdata/seed/<seed>.json, "" for none
	ep     Endpoint
	rec    func() *record
	// shape options: paths (a.b, a[].b) the seed has and we leave out by
	// design, that we add, or where we send null for an absent object.
	missing, extra, null []string
}

func goldenCases() []goldenCase {
	lc, cd := liveChatFixture(), chatDealerFixture()
	lcEP := Endpoint{Name: "gas", Format: FormatLiveChatV2, Params: map[string]string{"license_id": "1067"}}
	cdEP := Endpoint{Name: "cd", Format: FormatChatDealer, Params: map[string]string{"prm1": "val1", "prm2": "val2"}}
	cwEP := Endpoint{Name: "cw", Format: FormatChatwoot}
	return []goldenCase{
		{golden: "livechat_v2_chat_started", seed: "livechat_v2_chat_started", ep: lcEP,
			rec: func() *record { return lc.recordOf("s1", TypeChatRequested) }},
		{golden: "livechat_v2_chat_ended", seed: "livechat_v2_chat_ended", ep: lcEP,
			rec: func() *record { return lc.recordOf("x1", TypeChatEnded) }},
		{golden: "standard_chat_ended", ep: Endpoint{Name: "std", Format: FormatStandard, Params: map[string]string{"site": "tokyo"}},
			rec: func() *record { return lc.recordOf("x1", TypeChatEnded) }},
		{golden: "chatdealer_chat_start", seed: "chatdealer_chat_start", ep: cdEP, extra: []string{"parameter"},
			rec: func() *record { return cd.recordOf("s", TypeChatRequested) }},
		{golden: "chatdealer_chat_receive", seed: "chatdealer_chat_receive", ep: cdEP, extra: []string{"parameter"},
			rec: func() *record { return cd.recordOf("c", TypeMessageReceived) }},
		{golden: "chatdealer_chat_receive_staff", seed: "chatdealer_chat_receive", ep: cdEP, extra: []string{"parameter"},
			rec: func() *record { return cd.recordOf("a", TypeMessageAgentSent) }},
		{golden: "chatdealer_chat_end", seed: "chatdealer_chat_end", ep: cdEP, extra: []string{"parameter"},
			rec: func() *record { return cd.recordOf("x", TypeChatEnded) }},
		{golden: "chatdealer_form", seed: "chatdealer_form", ep: cdEP, extra: []string{"parameter"},
			// shown only when the form has them (seed 003); a LINE pre-chat has none
			missing: []string{"subject", "content", "agree_optin", "agree_privacy_policy"},
			rec:     func() *record { return cd.recordOf("s", TypeFormSubmitted) }},
		{golden: "chatwoot_conversation_created", seed: "chatwoot_conversation", ep: cwEP, null: []string{"meta.assignee"}, extra: []string{"event"},
			rec: func() *record { return lc.recordOf("s1", TypeChatRequested) }},
		{golden: "chatwoot_message_created", seed: "chatwoot_message_created", ep: cwEP,
			rec: func() *record { return lc.recordOf("m2", TypeMessageReceived) }},
		{golden: "chatwoot_conversation_resolved", seed: "chatwoot_conversation", ep: cwEP, extra: []string{"event"},
			rec: func() *record { return lc.recordOf("x1", TypeChatEnded) }},
	}
}

// TestFormatsMatchGolden compares each format's body with a golden file
// written by hand from the seed sample; only ids that must differ are
// placeholders (<evt>, <token>, <id>).
func TestFormatsMatchGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.golden, func(t *testing.T) {
			body, err := render(tc.rec(), &tc.ep, testKey)
			if err != nil || body == nil {
				t.Fatalf("render: %v (body %q)", err, body)
			}
			want := readJSON(t, filepath.Join("testdata", "golden", tc.golden+".json"))
			var got any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, body)
			}
			if diff := matchGolden(want, got, "$"); diff != "" {
				t.Errorf("%s\ngot: %s", diff, body)
			}
		})
	}
}

// TestFormatsMatchSeedShapes checks field names and JSON types against the
// seed samples themselves.
func TestFormatsMatchSeedShapes(t *testing.T) {
	conv := readJSON(t, filepath.Join("testdata", "seed", "chatwoot_conversation.json"))
	for _, tc := range goldenCases() {
		if tc.seed == "" {
			continue
		}
		t.Run(tc.golden, func(t *testing.T) {
			body, _ := render(tc.rec(), &tc.ep, testKey)
			var got any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			seed := readJSON(t, filepath.Join("testdata", "seed", tc.seed+".json"))
			sc := shapeChecker{conv: conv, missing: tc.missing, extra: tc.extra, null: tc.null}
			sc.check(seed, got, "")
			for _, p := range sc.problems {
				t.Error(p)
			}
		})
	}
}

func TestLiveChatTokenIsHMACOfEventID(t *testing.T) {
	rec := liveChatFixture().recordOf("s1", TypeChatRequested)
	body, _ := render(rec, &Endpoint{Format: FormatLiveChatV2}, testKey)
	var p struct{ EventUniqueID, Token string }
	_ = json.Unmarshal(body, &struct {
		E *string `json:"event_unique_id"`
		T *string `json:"token"`
	}{&p.EventUniqueID, &p.Token})
	if p.EventUniqueID != rec.ID || p.Token != livechatToken(testKey, rec.ID) || len(p.Token) != 64 {
		t.Fatalf("event_unique_id %q token %q", p.EventUniqueID, p.Token)
	}
}

func TestFormatsSkipEventsWithoutEquivalent(t *testing.T) {
	f := liveChatFixture()
	for _, format := range []string{FormatLiveChatV2, FormatChatDealer} {
		rec := f.recordOf("e1", TypeChatAgentJoined)
		if supports(format, rec.Type) {
			t.Errorf("%s claims to support %s", format, rec.Type)
		}
		if body, _ := render(rec, &Endpoint{Format: format}, nil); body != nil {
			t.Errorf("%s rendered %s: %s", format, rec.Type, body)
		}
	}
	if !supports(FormatChatDealer, TypeWebhookTest) || !supports(FormatStandard, TypeEndpointDisabled) || supports(FormatChatwoot, TypeEndpointDisabled) {
		t.Error("support table is off")
	}
}

func TestParamsInSeedFormatsDoNotOverrideFields(t *testing.T) {
	rec := liveChatFixture().recordOf("s1", TypeChatRequested)
	body, _ := render(rec, &Endpoint{Format: FormatChatwoot, Params: map[string]string{"status": "hacked", "tenant": "acme"}}, nil)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m["status"] != "pending" || m["tenant"] != "acme" {
		t.Fatalf("status %v tenant %v", m["status"], m["tenant"])
	}
}

func TestChatEndedFromRequestFailed(t *testing.T) {
	ev := bridge.Event{ID: "f1", Chat: "C1", Kind: bridge.KindRequestFailed, Time: unix(1700000000), Reason: "Unavailable"}
	d := bridge.Delivery{Customer: "U1", Chat: bridge.Chat{Customer: "U1", ID: "C1", CreatedAt: unix(1699999990)}, Events: []bridge.Event{ev}}
	recs, err := buildRecords(d, func(bridge.ChatID) ([]bridge.Event, error) { return nil, nil })
	if err != nil || len(recs) != 2 || recs[0].Type != TypeChatRequestFailed || recs[1].Type != TypeChatEnded {
		t.Fatalf("records %v err %v", recs, err)
	}
	if recs[1].Chat.EndReason != bridge.EndRequestFail || len(recs[1].Transcript) != 1 {
		t.Fatalf("chat.ended record %+v", recs[1].Chat)
	}
	if recs[0].ID == recs[1].ID || recs[0].ID != EventID("U1", "C1", "f1", TypeChatRequestFailed) {
		t.Fatal("ids are not distinct and derived")
	}
}

func readJSON(t *testing.T, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

var placeholders = map[string]*regexp.Regexp{
	"<evt>":   regexp.MustCompile(`^evt_[a-z2-7]{26}$`),
	"<token>": regexp.MustCompile(`^[0-9a-f]{64}$`),
}

// matchGolden returns "" when got equals want, placeholders aside.
func matchGolden(want, got any, path string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want object, got %T", path, got)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				return fmt.Sprintf("%s.%s: unexpected field", path, k)
			}
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s.%s: missing", path, k)
			}
			if d := matchGolden(wv, gv, path+"."+k); d != "" {
				return d
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: want %d elements, got %v", path, len(w), got)
		}
		for i := range w {
			if d := matchGolden(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
	case string:
		if w == "<id>" {
			if n, ok := got.(float64); !ok || n < 1 || n != float64(int64(n)) {
				return fmt.Sprintf("%s: want a positive integer id, got %v", path, got)
			}
			return ""
		}
		if re := placeholders[w]; re != nil {
			if s, _ := got.(string); !re.MatchString(s) {
				return fmt.Sprintf("%s: %v does not match %s", path, got, re)
			}
			return ""
		}
		if got != w {
			return fmt.Sprintf("%s: want %q, got %#v", path, w, got)
		}
	default:
		if got != want {
			return fmt.Sprintf("%s: want %#v, got %#v", path, want, got)
		}
	}
	return ""
}

// shapeChecker compares our body with a seed sample: same field names,
// same JSON types. Seed values that name a type ("integer", …) stand for it.
type shapeChecker struct {
	conv                 any
	missing, extra, null []string
	problems             []string
}

var seedTypes = map[string]string{
	"integer": "number", "unix-timestamp": "number", "boolean": "bool", "object": "object",
	"string": "string", "iso-datetime": "string", "datetime": "string", "date-string": "string",
	"contact": "string", "user": "string", "string - contact/user": "string", "string / null": "string|null",
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	}
	return "null"
}

func (s *shapeChecker) check(seed, got any, path string) {
	if str, ok := seed.(string); ok && str == "conversation" && s.conv != nil {
		seed = s.conv
	}
	if got == nil && slices.Contains(s.null, path) {
		return
	}
	switch sv := seed.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			s.problems = append(s.problems, fmt.Sprintf("%s: seed has an object, we send %s", path, kindOf(got)))
			return
		}
		for k, v := range sv {
			p := strings.TrimPrefix(path+"."+k, ".")
			if gv, ok := g[k]; ok {
				s.check(v, gv, p)
			} else if !slices.Contains(s.missing, p) {
				s.problems = append(s.problems, fmt.Sprintf("%s: in the seed, missing from our body", p))
			}
		}
		for k := range g {
			p := strings.TrimPrefix(path+"."+k, ".")
			if _, ok := sv[k]; !ok && !slices.Contains(s.extra, p) {
				s.problems = append(s.problems, fmt.Sprintf("%s: in our body, not in the seed", p))
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			s.problems = append(s.problems, fmt.Sprintf("%s: seed has an array, we send %s", path, kindOf(got)))
			return
		}
		for i, gv := range g {
			if len(sv) > 0 {
				s.check(sv[min(i, len(sv)-1)], gv, path+"[]")
			}
		}
	case string:
		want := "string"
		if t, ok := seedTypes[sv]; ok && (s.conv != nil) {
			want = t
		}
		if path == "message_type" || strings.HasSuffix(path, ".message_type") || strings.HasSuffix(path, "[].message_type") {
			want = "string" // Chatwoot sends the enum name; see testdata/seed/README.md
		}
		if k := kindOf(got); !strings.Contains(want, k) {
			s.problems = append(s.problems, fmt.Sprintf("%s: seed type %s, we send %s", path, want, k))
		}
	default:
		if kindOf(seed) != kindOf(got) {
			s.problems = append(s.problems, fmt.Sprintf("%s: seed type %s, we send %s", path, kindOf(seed), kindOf(got)))
		}
	}
}
