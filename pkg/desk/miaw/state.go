package miaw

import (
	"encoding/json"
	"fmt"
)

// deskState is what the core stores for an Enhanced Chat chat. It is the only per-chat state:
// any instance can resume the chat from it.
type deskState struct {
	V    int            `json:"v"`
	Conv ConversationID `json:"conv"`
	// User is the LINE user id: the token subject in authenticated mode, and the key of the
	// adapter's per-user event stream.
	User string `json:"user"`
	// Token and TokenExp (unix seconds) are the guest token of the conversation
	// (unauthenticated mode only: nobody can mint another for the same end user).
	Token    string `json:"token,omitempty"`
	TokenExp int64  `json:"token_exp,omitempty"`
	Lang     string `json:"lang,omitempty"`
	// LastEventID is the stream position after the last delivered batch (Last-Event-Id of a
	// new stream).
	LastEventID string `json:"last_event_id,omitempty"`
	// Cursor is the transcriptedTimestamp (ms) of the newest delivered persistent entry: the
	// backfill after a (re)connection lists the entries from there.
	Cursor int64 `json:"cursor,omitempty"`
	// Seen are the identifiers of the most recently delivered entries, oldest first: an entry
	// whose identifier is here is a duplicate.
	Seen []string `json:"seen,omitempty"`
	// Agents is the number of agents (or bots) in the conversation; Requested records the
	// first routing result.
	Agents    int  `json:"agents,omitempty"`
	Requested bool `json:"requested,omitempty"`
}

func decodeState(raw []byte) (deskState, error) {
	var s deskState
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("miaw: decode desk state: %w", err)
	}
	if s.Conv == "" || s.User == "" {
		return s, fmt.Errorf("miaw: decode desk state: no conversation or user")
	}
	return s, nil
}

func (s deskState) encode() []byte {
	b, _ := json.Marshal(s)
	return b
}

func (s deskState) user() User { return User{ID: s.User, Token: s.Token} }

func (s deskState) clone() deskState {
	s.Seen = append([]string(nil), s.Seen...)
	return s
}
