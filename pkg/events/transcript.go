package events

import (
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// Authors of a transcript line.
const (
	authorVisitor = "visitor"
	authorAgent   = "agent"
	authorSystem  = "system"
)

// tline is one line of a transcript, shared by every format.
type tline struct {
	ID       string
	Author   string // authorVisitor, authorAgent, authorSystem
	Name     string // who wrote it (visitor's display name, agent's name)
	AgentID  string
	Agent    string // the agent's name as of this line
	Kind     bridge.Kind
	Text     string
	Source   string
	SourceID string
	Time     time.Time
}

// lineOf turns one core event into a transcript line. visitor and agent are
// the names to use when the event carries none.
func lineOf(ev bridge.Event, visitor, agent string) tline {
	l := tline{ID: ev.ID, Kind: ev.Kind, Text: ev.Text, Source: ev.Source, SourceID: ev.SourceID, Time: ev.Time.UTC(), AgentID: ev.AgentID}
	if ev.AgentName != "" {
		agent = ev.AgentName
	}
	l.Agent = agent
	switch ev.Kind {
	case bridge.KindCustomerMessage, bridge.KindCustomerNote:
		l.Author, l.Name = authorVisitor, visitor
	case bridge.KindAgentMessage:
		l.Author, l.Name = authorAgent, agent
	default:
		l.Author, l.Text = authorSystem, systemText(ev, visitor, agent)
	}
	return l
}

// transcriptLines is the chat.ended transcript of rec, oldest first.
func transcriptLines(rec *record) []tline {
	visitor := rec.Chat.Visitor.DisplayName
	agent := ""
	out := []tline{}
	for _, ev := range rec.Transcript {
		if ev.AgentName != "" && (ev.Kind == bridge.KindAgentJoined || ev.Kind == bridge.KindTransferred || ev.Kind == bridge.KindAgentMessage) {
			agent = ev.AgentName
		}
		out = append(out, lineOf(ev, visitor, agent))
	}
	return out
}

// systemText describes a lifecycle event in a transcript, in the words
// LiveChat uses ("NAME closed the chat.").
func systemText(ev bridge.Event, visitor, agent string) string {
	if agent == "" {
		agent = "The agent"
	}
	if visitor == "" {
		visitor = "The customer"
	}
	switch ev.Kind {
	case bridge.KindAgentJoined:
		return agent + " joined the chat."
	case bridge.KindTransferred:
		return "The chat was transferred to " + agent + "."
	case bridge.KindAgentLeft:
		return agent + " left the chat."
	case bridge.KindRequestFailed:
		return "No agent was available."
	case bridge.KindEnded:
		switch ev.EndReason {
		case bridge.EndByCustomer:
			return visitor + " closed the chat."
		case bridge.EndByAgent:
			return agent + " closed the chat."
		case bridge.EndExpired:
			return "The chat expired."
		}
		return "The chat ended."
	}
	if ev.Text != "" {
		return ev.Text
	}
	return string(ev.Kind)
}

func (l tline) std() stdMessage {
	m := stdMessage{
		ID: l.ID, AuthorType: l.Author, AuthorName: l.Name, Kind: string(l.Kind), Text: l.Text,
		Source: l.Source, CreatedAt: l.Time,
	}
	switch l.Kind {
	case bridge.KindCustomerMessage, bridge.KindAgentMessage:
		m.Kind = "text"
	case bridge.KindCustomerNote:
		m.Kind = "note"
	}
	if l.Source == "line" {
		m.LineMessageID = l.SourceID
	}
	return m
}
