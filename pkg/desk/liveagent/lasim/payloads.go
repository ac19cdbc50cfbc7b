package lasim

import "encoding/json"

// Wire payloads of the events the simulator sends, field order as in real captures. They are
// defined here, independently of package liveagent, so that the client's decoding is tested
// against an independent encoding.

type geoLocation struct {
	Organization string  `json:"organization"`
	CountryName  string  `json:"countryName"`
	Latitude     float64 `json:"latitude"`
	CountryCode  string  `json:"countryCode"`
	Longitude    float64 `json:"longitude"`
}

var simGeo = geoLocation{Organization: "Simulated ISP", CountryName: "Japan", Latitude: 35.69, CountryCode: "JP", Longitude: 139.69}

type chatRequestSuccess struct {
	ConnectionTimeout     int             `json:"connectionTimeout"`
	EstimatedWaitTime     int             `json:"estimatedWaitTime"`
	SensitiveDataRules    []any           `json:"sensitiveDataRules"`
	TranscriptSaveEnabled bool            `json:"transcriptSaveEnabled"`
	URL                   string          `json:"url"`
	QueuePosition         int             `json:"queuePosition"`
	CustomDetails         json.RawMessage `json:"customDetails"`
	VisitorID             string          `json:"visitorId"`
	GeoLocation           geoLocation     `json:"geoLocation"`
}

type chatRequestFail struct {
	Reason          string `json:"reason"`
	AttachedRecords []any  `json:"attachedRecords"`
}

type queueUpdate struct {
	EstimatedWaitTime int `json:"estimatedWaitTime"`
	Position          int `json:"position"`
}

type idleTimeout struct {
	IsEnabled bool `json:"isEnabled"`
}

type chatEstablished struct {
	Name                string      `json:"name"`
	UserID              string      `json:"userId"`
	Items               []any       `json:"items"`
	SneakPeekEnabled    bool        `json:"sneakPeekEnabled"`
	ChasitorIdleTimeout idleTimeout `json:"chasitorIdleTimeout"`
}

type chatTransferred struct {
	Name                string      `json:"name"`
	UserID              string      `json:"userId"`
	SneakPeekEnabled    bool        `json:"sneakPeekEnabled"`
	ChasitorIdleTimeout idleTimeout `json:"chasitorIdleTimeout"`
}

type schedule struct {
	ResponseDelayMilliseconds int `json:"responseDelayMilliseconds"`
}

type agentChatMessage struct {
	Text     string   `json:"text"`
	Name     string   `json:"name"`
	Schedule schedule `json:"schedule"`
	AgentID  string   `json:"agentId"`
}

type agentTyping struct {
	Name    string `json:"name"`
	AgentID string `json:"agentId"`
}

type chatEnded struct {
	AttachedRecords []any  `json:"attachedRecords"`
	Reason          string `json:"reason"`
}

type fileTransfer struct {
	Type             string `json:"type"`
	FileToken        string `json:"fileToken,omitempty"`
	UploadServletURL string `json:"uploadServletUrl,omitempty"`
	CdmServletURL    string `json:"cdmServletUrl,omitempty"`
}

type customEvent struct {
	Type string `json:"type"`
	Data string `json:"data"`
}

type chasitorSessionData struct {
	QueuePosition    int               `json:"queuePosition"`
	GeoLocation      geoLocation       `json:"geoLocation"`
	URL              string            `json:"url"`
	Oref             string            `json:"oref"`
	PostChatURL      string            `json:"postChatUrl"`
	SneakPeekEnabled bool              `json:"sneakPeekEnabled"`
	ChatMessages     []TranscriptEntry `json:"chatMessages"`
}
