package liveagent

import (
	"bytes"
	"encoding/json"
	"errors"
)

// ChasitorInit is the chat request. The organization, deployment and button ids, user agent and
// language come from [Config] unless overridden here. Zero values reproduce the body the
// original Django bridge sent (seed-compat.md §1).
type ChasitorInit struct {
	VisitorName     string
	PrechatDetails  []PrechatDetail
	PrechatEntities json.RawMessage // passed through verbatim; nil or empty → null
	ButtonOverrides []string        // ordered routing targets: buttonId | agentId | agentId_buttonId

	AgentID    string // direct-to-agent routing; omitted when empty
	DoFallback *bool  // omitted when nil

	ScreenResolution string // default ""
	TrackingID       string // default ""

	ButtonID  string // overrides Config.ButtonID
	UserAgent string // overrides Config.UserAgent
	Language  string // overrides Config.Language

	// NoQueueUpdates sends receiveQueueUpdates:false (default true: QueueUpdate events wanted).
	NoQueueUpdates bool
}

// PrechatDetail is one custom detail shown to the agent and/or saved on the transcript. Nil
// slices are sent as [] (as the seed did).
type PrechatDetail struct {
	Label             string   `json:"label"`
	Value             string   `json:"value"`
	EntityMaps        []any    `json:"entityMaps"`
	TranscriptFields  []string `json:"transcriptFields"`
	DisplayToAgent    bool     `json:"displayToAgent"`
	DoKnowledgeSearch bool     `json:"doKnowledgeSearch"`
}

// MarshalJSON writes nil slices as [].
func (d PrechatDetail) MarshalJSON() ([]byte, error) {
	type plain PrechatDetail
	if d.EntityMaps == nil {
		d.EntityMaps = []any{}
	}
	if d.TranscriptFields == nil {
		d.TranscriptFields = []string{}
	}
	return json.Marshal(plain(d))
}

// chasitorInitBody is the wire body; field order follows the seed's body.
type chasitorInitBody struct {
	OrganizationID      string          `json:"organizationId"`
	DeploymentID        string          `json:"deploymentId"`
	ButtonID            string          `json:"buttonId"`
	SessionID           string          `json:"sessionId"`
	UserAgent           string          `json:"userAgent"`
	Language            string          `json:"language"`
	TrackingID          string          `json:"trackingId"`
	ScreenResolution    string          `json:"screenResolution"`
	VisitorName         string          `json:"visitorName"`
	IsPost              bool            `json:"isPost"`
	ReceiveQueueUpdates bool            `json:"receiveQueueUpdates"`
	ButtonOverrides     []string        `json:"buttonOverrides"`
	PrechatDetails      []PrechatDetail `json:"prechatDetails"`
	PrechatEntities     json.RawMessage `json:"prechatEntities"`
	AgentID             string          `json:"agentId,omitempty"`
	DoFallback          *bool           `json:"doFallback,omitempty"`
}

var errBadPrechatEntities = errors.New("prechatEntities is not valid JSON")

func (c *Client) chasitorInitBody(s Session, in ChasitorInit) (*chasitorInitBody, error) {
	b := &chasitorInitBody{
		OrganizationID:      c.cfg.OrgID,
		DeploymentID:        c.cfg.DeploymentID,
		ButtonID:            firstNonEmpty(in.ButtonID, c.cfg.ButtonID),
		SessionID:           s.ID,
		UserAgent:           firstNonEmpty(in.UserAgent, c.cfg.UserAgent),
		Language:            firstNonEmpty(in.Language, c.cfg.Language),
		TrackingID:          in.TrackingID,
		ScreenResolution:    in.ScreenResolution,
		VisitorName:         in.VisitorName,
		IsPost:              true,
		ReceiveQueueUpdates: !in.NoQueueUpdates,
		ButtonOverrides:     in.ButtonOverrides,
		PrechatDetails:      in.PrechatDetails,
		AgentID:             in.AgentID,
		DoFallback:          in.DoFallback,
	}
	if b.ButtonOverrides == nil {
		b.ButtonOverrides = []string{}
	}
	if b.PrechatDetails == nil {
		b.PrechatDetails = []PrechatDetail{}
	}
	if raw := bytes.TrimSpace(in.PrechatEntities); len(raw) > 0 {
		if !json.Valid(raw) {
			return nil, errBadPrechatEntities
		}
		b.PrechatEntities = raw
	}
	return b, nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
