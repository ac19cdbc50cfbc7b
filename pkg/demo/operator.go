package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// Limits of the operator view.
const (
	opActiveLimit = 100 // chats asked of Operator.Active
	opRecent      = 20  // chats that left the active set, kept on view
	opEvents      = 15  // latest events shown per chat
)

// OpChat is one chat of the operator view.
type OpChat struct {
	Customer      bridge.CustomerID `json:"customer"`
	ID            bridge.ChatID     `json:"id"`
	Status        bridge.Status     `json:"status"`
	Active        bool              `json:"active"` // in the bridge's active set (open, or deliveries in flight)
	VisitorName   string            `json:"visitor_name"`
	Language      string            `json:"language,omitempty"`
	AgentName     string            `json:"agent_name,omitempty"`
	FileRequested bool              `json:"file_requested,omitempty"`
	EndReason     bridge.EndReason  `json:"end_reason,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	EstablishedAt time.Time         `json:"established_at,omitzero"`
	EndedAt       time.Time         `json:"ended_at,omitzero"`
	EventCount    int               `json:"event_count"`
	Events        []OpEvent         `json:"events"` // the latest, oldest first
}

// OpEvent is one event of a chat, as the operator view shows it.
type OpEvent struct {
	ID        string           `json:"id"`
	Kind      bridge.Kind      `json:"kind"`
	Time      time.Time        `json:"time"`
	Text      string           `json:"text,omitempty"`
	AgentName string           `json:"agent_name,omitempty"`
	Position  *int             `json:"position,omitempty"`
	Reason    string           `json:"reason,omitempty"`
	EndReason bridge.EndReason `json:"end_reason,omitempty"`
	Source    string           `json:"source,omitempty"`
}

// OpView is the operator view's data.
type OpView struct {
	Chats []OpChat  `json:"chats"`
	Error string    `json:"error,omitempty"` // the bridge could not be read
	At    time.Time `json:"at"`
}

type operatorAPI struct {
	o Options

	mu     sync.Mutex
	recent map[bridge.ChatID]bridge.Chat // chats seen active, newest kept
}

func newOperatorAPI(o Options) *operatorAPI {
	return &operatorAPI{o: o, recent: make(map[bridge.ChatID]bridge.Chat)}
}

const operatorOff = "the operator view is off: demo.Options.Operator is not set"

// view reads the open chats and the recently seen ones with their latest
// events.
func (a *operatorAPI) view(ctx context.Context) OpView {
	v := OpView{Chats: []OpChat{}, At: time.Now()}
	if a.o.Operator == nil {
		v.Error = operatorOff
		return v
	}
	active, err := a.o.Operator.Active(ctx, opActiveLimit)
	if err != nil {
		v.Error = "the bridge's active chats could not be read: " + err.Error()
		return v
	}
	isActive := make(map[bridge.ChatID]bool, len(active))
	a.mu.Lock()
	for _, ch := range active {
		isActive[ch.ID] = true
		a.recent[ch.ID] = ch
	}
	chats := make([]bridge.Chat, 0, len(a.recent))
	for _, ch := range a.recent {
		chats = append(chats, ch)
	}
	slices.SortFunc(chats, func(x, y bridge.Chat) int { return y.CreatedAt.Compare(x.CreatedAt) })
	// Forget the oldest chats that left the active set.
	kept := 0
	for _, ch := range chats {
		if isActive[ch.ID] {
			continue
		}
		if kept++; kept > opRecent {
			delete(a.recent, ch.ID)
		}
	}
	a.mu.Unlock()

	for _, ch := range chats {
		if !isActive[ch.ID] {
			if _, ok := a.lookup(ch.ID); !ok {
				continue
			}
		}
		evs, err := a.o.Operator.Transcript(ctx, ch.Customer, ch.ID)
		if err != nil {
			v.Error = "a transcript could not be read: " + err.Error()
		}
		v.Chats = append(v.Chats, opChat(ch, isActive[ch.ID], evs))
	}
	return v
}

func (a *operatorAPI) lookup(id bridge.ChatID) (bridge.Chat, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ch, ok := a.recent[id]
	return ch, ok
}

// opChat builds a chat's view. A chat that left the active set is over; its
// last record may predate the end, so the end comes from its events.
func opChat(ch bridge.Chat, active bool, evs []bridge.Event) OpChat {
	c := OpChat{
		Customer: ch.Customer, ID: ch.ID, Status: ch.Status, Active: active,
		VisitorName: ch.Visitor.DisplayName, Language: ch.Visitor.Language, AgentName: ch.AgentName,
		FileRequested: ch.FileRequest != nil, EndReason: ch.EndReason,
		CreatedAt: ch.CreatedAt, EstablishedAt: ch.EstablishAt, EndedAt: ch.EndedAt,
		EventCount: len(evs), Events: []OpEvent{},
	}
	if !active && ch.Status.Open() {
		c.Status = bridge.StatusEnded
		c.FileRequested = false
		for _, e := range slices.Backward(evs) {
			if e.Ends() {
				c.EndReason, c.EndedAt = e.EndReason, e.Time
				break
			}
		}
	}
	for _, e := range evs[max(0, len(evs)-opEvents):] {
		c.Events = append(c.Events, OpEvent{
			ID: e.ID, Kind: e.Kind, Time: e.Time, Text: e.Text, AgentName: e.AgentName,
			Position: e.Position, Reason: e.Reason, EndReason: e.EndReason, Source: e.Source,
		})
	}
	return c
}

// chats answers the operator view as JSON.
func (a *operatorAPI) chats(c echo.Context) error {
	v := a.view(c.Request().Context())
	status := http.StatusOK
	if a.o.Operator == nil {
		status = http.StatusServiceUnavailable
	}
	return c.JSON(status, v)
}

// stream sends the operator view as Server-Sent Events ("chats", whenever
// it changes), looking every OperatorInterval. It ends with the request.
func (a *operatorAPI) stream(c echo.Context) error {
	ctx := c.Request().Context()
	s := startSSE(c.Response())
	var last []byte
	lastWrite := time.Now()
	t := time.NewTicker(a.o.OperatorInterval)
	defer t.Stop()
	for {
		v := a.view(ctx)
		if ctx.Err() != nil {
			return nil
		}
		v.At = time.Time{} // compare without the time
		b, err := json.Marshal(v)
		if err != nil {
			return nil
		}
		if !bytes.Equal(b, last) {
			v.At = time.Now()
			if s.event("chats", v) != nil {
				return nil
			}
			last, lastWrite = b, time.Now()
		} else if time.Since(lastWrite) >= pingEvery {
			if s.ping() != nil {
				return nil
			}
			lastWrite = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
