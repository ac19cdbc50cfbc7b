package events

import (
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// Chat Dealer external API calls (seed 003), field for field: dates as
// yyyy/MM/dd HH:mm:ss in Japan time, msg_type staff / visitor / system, the
// chat_detail transcript on chat end, and fixed parameters as the
// "parameter" list of {key: value} objects. LINE has no IP address, page
// URL, page title or visit count: those fields are empty strings.

// jst is Asia/Tokyo (no daylight saving time), without needing tzdata.
var jst = time.FixedZone("JST", 9*60*60)

func cdDate(t time.Time) string { return t.In(jst).Format("2006/01/02 15:04:05") }

type cdStart struct {
	EventDate  string `json:"event_date"`
	ChatID     string `json:"chat_id"`
	VisitorID  string `json:"visitor_id"`
	VisitorKey string `json:"visitor_key"`
	IP         string `json:"ip"`
	VisitCount string `json:"visit_count"`
	PageURL    string `json:"page_url"`
	PageTitle  string `json:"page_title"`
	cdParams
}

type cdReceive struct {
	EventDate  string `json:"event_date"`
	ChatID     string `json:"chat_id"`
	VisitorID  string `json:"visitor_id"`
	VisitorKey string `json:"visitor_key"`
	PageURL    string `json:"page_url"`
	PageTitle  string `json:"page_title"`
	cdMessage
	cdParams
}

type cdMessage struct {
	MsgType  string `json:"msg_type"`
	PostUser string `json:"post_user"`
	PostDate string `json:"post_date"`
	Msg      string `json:"msg"`
}

type cdEnd struct {
	EventDate  string      `json:"event_date"`
	ChatID     string      `json:"chat_id"`
	VisitorID  string      `json:"visitor_id"`
	VisitorKey string      `json:"visitor_key"`
	StartDate  string      `json:"start_date"`
	EndDate    string      `json:"end_date"`
	PageURL    string      `json:"page_url"`
	PageTitle  string      `json:"page_title"`
	ChatDetail []cdMessage `json:"chat_detail"`
	cdParams
}

type cdForm struct {
	EventDate string   `json:"event_date"`
	ChatID    string   `json:"chat_id"`
	VisitorID string   `json:"visitor_id"`
	Item      []cdItem `json:"item"`
	cdParams
}

type cdItem struct {
	ItemName  string `json:"item_name"`
	ItemValue string `json:"item_value"`
}

type cdParams struct {
	Parameter []map[string]string `json:"parameter,omitempty"`
}

// cdSystemUser is post_user of the bridge's own lines.
const cdSystemUser = "システム"

func cdMessageOf(l tline) cdMessage {
	m := cdMessage{PostUser: l.Name, PostDate: cdDate(l.Time), Msg: l.Text}
	switch l.Author {
	case authorVisitor:
		m.MsgType = "visitor"
	case authorAgent:
		m.MsgType = "staff"
	default:
		m.MsgType, m.PostUser = "system", cdSystemUser
	}
	return m
}

func renderChatDealer(rec *record, ep *Endpoint) ([]byte, error) {
	ci := rec.Chat
	var params cdParams
	for _, k := range slices.Sorted(maps.Keys(ep.Params)) {
		params.Parameter = append(params.Parameter, map[string]string{k: ep.Params[k]})
	}
	date, chat, visitor := cdDate(rec.Time), string(ci.ID), string(rec.Customer)
	var v any
	switch rec.Type {
	case TypeChatRequested:
		v = cdStart{EventDate: date, ChatID: chat, VisitorID: visitor, VisitorKey: visitor, cdParams: params}
	case TypeMessageReceived, TypeMessageAgentSent:
		l := lineOf(*rec.Event, ci.Visitor.DisplayName, agentAt(rec))
		v = cdReceive{EventDate: date, ChatID: chat, VisitorID: visitor, VisitorKey: visitor, cdMessage: cdMessageOf(l), cdParams: params}
	case TypeChatEnded:
		start := ci.CreatedAt
		if start.IsZero() {
			start = rec.Time
		}
		e := cdEnd{EventDate: date, ChatID: chat, VisitorID: visitor, VisitorKey: visitor,
			StartDate: cdDate(start), EndDate: date, ChatDetail: []cdMessage{}, cdParams: params}
		for _, l := range transcriptLines(rec) {
			e.ChatDetail = append(e.ChatDetail, cdMessageOf(l))
		}
		v = e
	case TypeFormSubmitted:
		f := cdForm{EventDate: date, ChatID: chat, VisitorID: visitor, Item: []cdItem{}, cdParams: params}
		for _, k := range slices.Sorted(maps.Keys(ci.Visitor.Fields)) {
			f.Item = append(f.Item, cdItem{ItemName: k, ItemValue: ci.Visitor.Fields[k]})
		}
		v = f
	default:
		return nil, nil
	}
	return json.Marshal(v)
}
