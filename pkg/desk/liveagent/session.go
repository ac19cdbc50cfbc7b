package liveagent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
)

// Session is a Live Agent visitor session as returned by System/SessionId.
//
// Its JSON form is the wire form ({"id","key","affinityToken","clientPollTimeout"} with the poll
// timeout in seconds), so a Session can be stored as JSON and read back. That JSON contains the
// session key, the chat's only credential: store it, never log it. For logs use the slog
// attribute, which masks the key (see [Session.LogValue]).
type Session struct {
	ID                string        `json:"id"`
	Key               string        `json:"key"`
	AffinityToken     string        `json:"affinityToken"`
	ClientPollTimeout time.Duration `json:"clientPollTimeout"`
}

// ChatKey is the part of the session key before the first '!', used as chatKey by the file
// upload servlet.
func (s Session) ChatKey() string {
	k, _, _ := strings.Cut(s.Key, "!")
	return k
}

// PollTimeout is ClientPollTimeout, or [DefaultClientPollTimeout] when unset.
func (s Session) PollTimeout() time.Duration {
	if s.ClientPollTimeout <= 0 {
		return DefaultClientPollTimeout
	}
	return s.ClientPollTimeout
}

// WithAffinity returns a copy of s using token, e.g. after [Client.ReconnectSession].
func (s Session) WithAffinity(token string) Session {
	s.AffinityToken = token
	return s
}

// LogValue implements slog.LogValuer. The key is masked: only its first 4 characters and its
// length are shown.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", s.ID),
		slog.String("key", maskSecret(s.Key)),
		slog.String("affinity", s.AffinityToken),
		slog.Duration("clientPollTimeout", s.ClientPollTimeout),
	)
}

// String masks the key as well, so fmt.Print(s) is safe.
func (s Session) String() string {
	return fmt.Sprintf("Session{ID:%s Key:%s AffinityToken:%s ClientPollTimeout:%s}",
		s.ID, maskSecret(s.Key), s.AffinityToken, s.ClientPollTimeout)
}

// GoString masks the key for %#v too.
func (s Session) GoString() string { return s.String() }

func maskSecret(v string) string {
	if v == "" {
		return ""
	}
	if len(v) <= 8 {
		return "***"
	}
	return v[:4] + "…(" + strconv.Itoa(len(v)) + " chars)"
}

type sessionWire struct {
	ID                string          `json:"id"`
	Key               string          `json:"key"`
	AffinityToken     string          `json:"affinityToken"`
	ClientPollTimeout json.RawMessage `json:"clientPollTimeout,omitempty"`
}

// MarshalJSON writes the wire form; clientPollTimeout is in seconds (a JSON number).
func (s Session) MarshalJSON() ([]byte, error) {
	w := sessionWire{ID: s.ID, Key: s.Key, AffinityToken: s.AffinityToken}
	if s.ClientPollTimeout > 0 {
		w.ClientPollTimeout = json.RawMessage(strconv.FormatFloat(s.ClientPollTimeout.Seconds(), 'f', -1, 64))
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the wire form. clientPollTimeout may be a number or a numeric string
// (the doc's example is "30", real orgs send 40), in seconds; absent, null or "" means
// [DefaultClientPollTimeout].
func (s *Session) UnmarshalJSON(b []byte) error {
	var w struct {
		ID                any             `json:"id"`
		Key               any             `json:"key"`
		AffinityToken     any             `json:"affinityToken"`
		ClientPollTimeout json.RawMessage `json:"clientPollTimeout"`
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&w); err != nil {
		return fmt.Errorf("session: %w", err)
	}
	pt, err := parseSeconds(w.ClientPollTimeout)
	if err != nil {
		return fmt.Errorf("session: clientPollTimeout: %w", err)
	}
	if pt <= 0 {
		pt = DefaultClientPollTimeout
	}
	*s = Session{ID: anyString(w.ID), Key: anyString(w.Key), AffinityToken: anyString(w.AffinityToken), ClientPollTimeout: pt}
	return nil
}

// parseSeconds decodes a JSON number or numeric string of seconds.
func parseSeconds(raw json.RawMessage) (time.Duration, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	str := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, err
		}
		str = strings.TrimSpace(str)
		if str == "" {
			return 0, nil
		}
	}
	f, err := strconv.ParseFloat(str, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 86400 {
		return 0, fmt.Errorf("invalid seconds value %s", raw)
	}
	return time.Duration(f * float64(time.Second)), nil
}

func anyString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}
