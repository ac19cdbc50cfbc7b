package events

import (
	"context"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

func unix(s int64) time.Time { return time.Unix(s, 0).UTC() }

// liveChatChat is the seed 000 chat (PO13, visitor S1551) as the bridge
// sees it: started, an agent joins and greets, the visitor writes, the agent
// answers, the visitor closes.
type chatFixture struct {
	visitor bridge.Visitor
	chat    bridge.Chat // as of the end
	events  map[string]bridge.Event
	order   []string
}

func liveChatFixture() chatFixture {
	v := bridge.Visitor{
		CustomerID: "S1551", DisplayName: "NAME", Language: "en",
		Fields: map[string]string{"Name:": "NAME", "E-mail:": "name@gmail.com"},
	}
	f := chatFixture{
		visitor: v,
		chat: bridge.Chat{
			Customer: "S1551", ID: "PO13", Status: bridge.StatusEnded, Desk: "liveagent", Visitor: v,
			AgentName: "AGENT NAME", EndReason: bridge.EndByCustomer,
			CreatedAt: unix(1552126412), EstablishAt: unix(1552126412), EndedAt: unix(1552126503),
		},
		events: map[string]bridge.Event{},
	}
	add := func(ev bridge.Event) {
		ev.Chat = "PO13"
		f.events[ev.ID] = ev
		f.order = append(f.order, ev.ID)
	}
	add(bridge.Event{ID: "s1", Kind: bridge.KindStarted, Time: unix(1552126412), Visitor: &v})
	add(bridge.Event{ID: "e1", Kind: bridge.KindAgentJoined, Time: unix(1552126412), AgentName: "AGENT NAME", AgentID: "name@gmail.com"})
	add(bridge.Event{ID: "m1", Kind: bridge.KindAgentMessage, Time: unix(1552126412), Text: "Hello. How may I help you?", AgentName: "AGENT NAME", AgentID: "name@gmail.com"})
	add(bridge.Event{ID: "m2", Kind: bridge.KindCustomerMessage, Time: unix(1552126451), Text: "hello! how's it going?", Source: "line", SourceID: "5001", ReadToken: "rt"})
	add(bridge.Event{ID: "m3", Kind: bridge.KindAgentMessage, Time: unix(1552126490), Text: "Hi, good.", AgentName: "AGENT NAME", AgentID: "name@gmail.com"})
	add(bridge.Event{ID: "x1", Kind: bridge.KindEnded, Time: unix(1552126503), EndReason: bridge.EndByCustomer})
	return f
}

// chatDealerFixture is the seed 003 chat (21252, visitor 30660), times in
// JST: started 18:22:45, agent joins 18:22:46, "こんにちは" 18:23:00, staff
// answers 18:23:03, the visitor closes 19:04:34.
func chatDealerFixture() chatFixture {
	v := bridge.Visitor{
		CustomerID: "30660", DisplayName: "らくす太郎", Language: "ja",
		Fields: map[string]string{"名前": "らくす太郎", "メールアドレス": "user-sample-1@rakus.co.jp"},
	}
	f := chatFixture{
		visitor: v,
		chat: bridge.Chat{
			Customer: "30660", ID: "21252", Status: bridge.StatusEnded, Desk: "liveagent", Visitor: v,
			AgentName: "らくす花子", EndReason: bridge.EndByCustomer,
			CreatedAt: unix(1607592165), EstablishAt: unix(1607592166), EndedAt: unix(1607594674),
		},
		events: map[string]bridge.Event{},
	}
	add := func(ev bridge.Event) {
		ev.Chat = "21252"
		f.events[ev.ID] = ev
		f.order = append(f.order, ev.ID)
	}
	add(bridge.Event{ID: "s", Kind: bridge.KindStarted, Time: unix(1607592165), Visitor: &v})
	add(bridge.Event{ID: "j", Kind: bridge.KindAgentJoined, Time: unix(1607592166), AgentName: "らくす花子", AgentID: "005A"})
	add(bridge.Event{ID: "c", Kind: bridge.KindCustomerMessage, Time: unix(1607592180), Text: "こんにちは", Source: "line", SourceID: "7001"})
	add(bridge.Event{ID: "a", Kind: bridge.KindAgentMessage, Time: unix(1607592183), Text: "らくす花子です。ご用件をどうぞ。", AgentName: "らくす花子", AgentID: "005A"})
	add(bridge.Event{ID: "x", Kind: bridge.KindEnded, Time: unix(1607594674), EndReason: bridge.EndByCustomer})
	return f
}

// delivery is the Sink delivery of event id, with the chat record as it
// stood then (before the agent joined: no agent, status requested).
func (f chatFixture) delivery(ids ...string) bridge.Delivery {
	ch := f.chat
	first := f.events[ids[0]]
	if first.Kind == bridge.KindStarted {
		ch.Status, ch.AgentName, ch.EstablishAt, ch.EndedAt, ch.EndReason = bridge.StatusRequested, "", time.Time{}, time.Time{}, ""
	}
	d := bridge.Delivery{Customer: ch.Customer, Chat: ch, Key: "k-" + ids[0]}
	for _, id := range ids {
		d.Events = append(d.Events, f.events[id])
	}
	d.Transcript = func(_ context.Context, id bridge.ChatID) ([]bridge.Event, error) {
		var out []bridge.Event
		for _, eid := range f.order {
			if ev := f.events[eid]; ev.Chat == id {
				out = append(out, ev)
			}
		}
		return out, nil
	}
	return d
}

// records builds the catalogue records of a delivery.
func (f chatFixture) records(ids ...string) []*record {
	d := f.delivery(ids...)
	recs, err := buildRecords(d, func(id bridge.ChatID) ([]bridge.Event, error) { return d.Transcript(context.Background(), id) })
	if err != nil {
		panic(err)
	}
	return recs
}

// recordOf is the record of type typ among those of event id.
func (f chatFixture) recordOf(id, typ string) *record {
	for _, r := range f.records(id) {
		if r.Type == typ {
			return r
		}
	}
	panic("no " + typ + " from " + id)
}
