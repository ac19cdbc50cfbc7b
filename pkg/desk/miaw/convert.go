package miaw

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// relevantEntry reports whether the adapter keeps an entry of this type at all. Receipts and
// unknown entry types are dropped.
func relevantEntry(t string) bool {
	switch t {
	case EntryMessage, EntryParticipantChanged, EntryRoutingResult, EntryTypingStarted, EntryTypingStopped,
		EntryCloseConversation, EntrySessionStatusChanged, EntryQueuePosition:
		return true
	}
	return false
}

// persistentEntry reports whether the entries list keeps entries of this type (typing
// indicators and queue positions are ephemeral): only those move the backfill cursor.
func persistentEntry(t string) bool {
	switch t {
	case EntryTypingStarted, EntryTypingStopped, EntryQueuePosition:
		return false
	}
	return true
}

// knownEvent reports whether a stream event type is one the adapter reads; the others are
// ignored, as the API requires.
func knownEvent(t string) bool {
	switch t {
	case EventMessage, EventParticipantChanged, EventRoutingResult, EventTypingStarted, EventTypingStopped,
		EventCloseConversation, EventSessionStatusChanged, EventQueuePosition:
		return true
	}
	return false
}

// echo reports whether e is the end user's own entry, echoed back by the server.
func echo(e Entry) bool {
	switch e.EntryType {
	case EntryMessage, EntryTypingStarted, EntryTypingStopped:
		return e.Sender.Role == RoleEndUser
	}
	return false
}

// agentRole reports whether a participant of this role answers the customer.
func agentRole(role string) bool { return role == RoleAgent || role == RoleChatbot }

// toEvents converts one entry, updating st (agents present, routing requested). It returns
// no event for entries that only change st or that the bridge has no use for.
func toEvents(st *deskState, e Entry) []bridge.Event {
	ev := bridge.Event{ID: e.Identifier}
	if e.TranscriptedTimestamp > 0 {
		ev.Time = time.UnixMilli(e.TranscriptedTimestamp)
	}
	switch e.EntryType {
	case EntryMessage:
		if e.Sender.Role == RoleEndUser {
			return nil
		}
		var p MessagePayload
		if json.Unmarshal(e.Payload, &p) != nil {
			return nil
		}
		text := p.Text()
		if text == "" {
			return nil
		}
		ev.Kind, ev.Text = bridge.KindAgentMessage, text
		if e.Sender.Role != RoleSystem {
			ev.AgentName, ev.AgentID = e.SenderDisplayName, e.Sender.Subject
		}
	case EntryParticipantChanged:
		var p ParticipantChangedPayload
		if json.Unmarshal(e.Payload, &p) != nil {
			return nil
		}
		before, removed := st.Agents, 0
		var added []ParticipantChange
		for _, ch := range p.Entries {
			if !agentRole(ch.Participant.Role) {
				continue
			}
			switch strings.ToLower(ch.Operation) {
			case "add", "join", "joined":
				added = append(added, ch)
			case "remove", "leave", "left":
				removed++
			}
		}
		st.Agents = max(0, before-removed) + len(added)
		switch {
		case len(added) > 0:
			last := added[len(added)-1]
			ev.Kind, ev.AgentName, ev.AgentID = bridge.KindAgentJoined, last.DisplayName, last.Participant.Subject
			if before > 0 {
				ev.Kind = bridge.KindTransferred
			}
		case removed > 0 && st.Agents == 0:
			ev.Kind = bridge.KindAgentLeft
		default:
			return nil
		}
	case EntryRoutingResult:
		var p RoutingResultPayload
		if json.Unmarshal(e.Payload, &p) != nil {
			return nil
		}
		if p.FailureType != "" && !strings.EqualFold(p.FailureType, "None") {
			ev.Kind, ev.Reason = bridge.KindRequestFailed, p.FailureType
			if p.FailureReason != "" {
				ev.Reason += ": " + p.FailureReason
			}
			return []bridge.Event{ev}
		}
		if st.Requested {
			return nil // a transfer's routing: the participant changes tell the rest
		}
		st.Requested = true
		ev.Kind = bridge.KindRequested
		if w := p.EstimatedWaitTime; w != nil && w.Seconds >= 0 {
			ev.Wait = intPtr(w.Seconds)
		}
	case EntryQueuePosition:
		var p QueuePositionPayload
		if json.Unmarshal(e.Payload, &p) != nil {
			return nil
		}
		pos := p.QueuePosition
		if pos == nil {
			pos = p.Position
		}
		if pos == nil {
			return nil
		}
		ev.Kind, ev.Position = bridge.KindQueueUpdate, intPtr(*pos)
		if w, ok := waitSeconds(p.EstimatedWaitTime); ok {
			ev.Wait = intPtr(w)
		}
	case EntryTypingStarted, EntryTypingStopped:
		if e.Sender.Role == RoleEndUser {
			return nil
		}
		ev.Kind, ev.AgentName = bridge.KindAgentTyping, e.SenderDisplayName
		if e.EntryType == EntryTypingStopped {
			ev.Kind = bridge.KindAgentNotTyping
		}
	case EntrySessionStatusChanged:
		var p SessionStatusPayload
		if json.Unmarshal(e.Payload, &p) != nil || !strings.EqualFold(p.SessionStatus, "Ended") {
			return nil
		}
		ev.Kind, ev.EndReason, ev.Reason = bridge.KindEnded, endReason(p.SessionEndedByRole), "session ended"
		if p.SessionEndedByRole != "" {
			ev.Reason += " by " + strings.ToLower(p.SessionEndedByRole)
		}
	case EntryCloseConversation:
		ev.Kind, ev.EndReason, ev.Reason = bridge.KindEnded, endReason(e.Sender.Role), "conversation closed"
	default:
		return nil
	}
	return []bridge.Event{ev}
}

func endReason(role string) bridge.EndReason {
	if role == RoleEndUser {
		return bridge.EndByCustomer
	}
	return bridge.EndByAgent
}

func intPtr(n int) *int { return &n }

// waitSeconds reads an estimated wait given as a number or as {estimatedWaitTimeInSeconds}.
func waitSeconds(raw json.RawMessage) (int, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	if n, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil {
		return n, n >= 0
	}
	var w EstimatedWait
	if json.Unmarshal(raw, &w) == nil && w.Seconds >= 0 {
		return w.Seconds, true
	}
	return 0, false
}
