package events

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// LiveChat v2 webhooks (seed 000): chat_started and chat_ended, field for
// field. Fixed parameters become extra top-level fields; the parameter
// "license_id" fills the field of that name.

type lcPayload struct {
	EventType     string      `json:"event_type"`
	EventUniqueID string      `json:"event_unique_id"`
	Token         string      `json:"token"`
	LicenseID     string      `json:"license_id"`
	LCVersion     string      `json:"lc_version"`
	Chat          lcChat      `json:"chat"`
	Visitor       lcVisitor   `json:"visitor"`
	PreChatSurvey []lcSurveyQ `json:"pre_chat_survey"`
}

type lcChat struct {
	ID               string      `json:"id"`
	StartedTimestamp int64       `json:"started_timestamp"`
	EndedTimestamp   *int64      `json:"ended_timestamp,omitempty"`
	URL              string      `json:"url"`
	Referer          string      `json:"referer"`
	Messages         []lcMessage `json:"messages"`
	Attachments      []any       `json:"attachments"`
	Events           []lcEvent   `json:"events"`
	Agents           []lcAgent   `json:"agents"`
	Tags             []string    `json:"tags"`
	Groups           []int       `json:"groups"`
}

type lcMessage struct {
	UserType   string  `json:"user_type"`
	AuthorName string  `json:"author_name"`
	AgentID    *string `json:"agent_id,omitempty"`
	Text       string  `json:"text"`
	JSON       string  `json:"json"`
	Timestamp  int64   `json:"timestamp"`
}

type lcEvent struct {
	UserType  string `json:"user_type"`
	Text      string `json:"text"`
	Timestamp int64  `json:"timestamp"`
	Type      string `json:"type"`
}

type lcAgent struct {
	Name  string `json:"name"`
	Login string `json:"login"`
}

type lcVisitor struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Email       string `json:"email"`
	Country     string `json:"country"`
	City        string `json:"city"`
	Language    string `json:"language"`
	PageCurrent string `json:"page_current"`
	Timezone    string `json:"timezone"`
}

type lcSurveyQ struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Label  string `json:"label"`
	Answer string `json:"answer"`
}

func renderLiveChat(rec *record, ep *Endpoint, key []byte) ([]byte, error) {
	ci := rec.Chat
	p := lcPayload{
		EventUniqueID: rec.ID, Token: livechatToken(key, rec.ID),
		LicenseID: ep.Params["license_id"], LCVersion: "2",
		Chat: lcChat{
			ID: string(ci.ID), StartedTimestamp: ci.CreatedAt.Unix(),
			Messages: []lcMessage{}, Attachments: []any{}, Events: []lcEvent{},
			Agents: []lcAgent{}, Tags: []string{}, Groups: []int{0},
		},
		Visitor: lcVisitor{
			ID: string(rec.Customer), Name: ci.Visitor.DisplayName, Language: ci.Visitor.Language,
		},
		PreChatSurvey: []lcSurveyQ{},
	}
	if ci.CreatedAt.IsZero() {
		p.Chat.StartedTimestamp = rec.Time.Unix()
	}
	for i, k := range slices.Sorted(maps.Keys(ci.Visitor.Fields)) {
		p.PreChatSurvey = append(p.PreChatSurvey, lcSurveyQ{ID: strconv.Itoa(i + 1), Type: "question", Label: k, Answer: ci.Visitor.Fields[k]})
	}
	switch rec.Type {
	case TypeChatRequested:
		p.EventType = "chat_started"
	case TypeChatEnded:
		p.EventType = "chat_ended"
		end := rec.Time.Unix()
		p.Chat.EndedTimestamp = &end
		seen := map[lcAgent]bool{}
		for _, l := range transcriptLines(rec) {
			switch l.Author {
			case authorVisitor:
				p.Chat.Messages = append(p.Chat.Messages, lcMessage{UserType: "visitor", AuthorName: l.Name, Text: l.Text, Timestamp: l.Time.Unix()})
			case authorAgent:
				id := l.AgentID
				p.Chat.Messages = append(p.Chat.Messages, lcMessage{UserType: "agent", AuthorName: l.Name, AgentID: &id, Text: l.Text, Timestamp: l.Time.Unix()})
			}
			if l.Kind == bridge.KindAgentJoined || l.Kind == bridge.KindTransferred || l.Author == authorAgent {
				a := lcAgent{Name: l.Agent, Login: l.AgentID}
				if a.Name != "" && !seen[a] {
					seen[a] = true
					p.Chat.Agents = append(p.Chat.Agents, a)
				}
			}
			if l.Kind == bridge.KindEnded || l.Kind == bridge.KindRequestFailed {
				who := "agent"
				if rec.Event.EndReason == bridge.EndByCustomer {
					who = "visitor"
				}
				p.Chat.Events = append(p.Chat.Events, lcEvent{UserType: who, Text: l.Text, Timestamp: l.Time.Unix(), Type: "closed"})
			}
		}
	default:
		return nil, nil
	}
	body, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return appendFields(body, ep.Params, func(k string) bool { return k == "license_id" || topLevelKeys(body)[k] })
}
