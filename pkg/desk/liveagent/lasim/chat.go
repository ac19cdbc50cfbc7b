package lasim

import (
	"context"
	"encoding/json"
	"time"
)

// State is the lifecycle state of a simulated chat.
type State string

// Chat states.
const (
	StateCreated     State = "created"     // SessionId issued, no ChasitorInit yet
	StateQueued      State = "queued"      // ChasitorInit received, waiting for an agent
	StateEstablished State = "established" // an agent accepted
	StateEnded       State = "ended"       // ended by the agent, the visitor, a request failure or a 409
	StateExpired     State = "expired"     // not polled within ClientPollTimeout
)

// Who ended a chat (ChatView.EndedBy).
const (
	EndedByAgent   = "agent"
	EndedByVisitor = "visitor"
	EndedBySystem  = "system"
)

// chat is the server-side state of one session. All fields are guarded by Sim.mu.
type chat struct {
	id, key      string
	affinity     string
	prevAffinity string // the affinity before the last 503; requests with it get 503 again
	baseURL      string // external base URL seen on SessionId
	state        State
	createdAt    time.Time
	estAt, endAt time.Time
	endedBy      string
	endReason    string

	init            *initInfo
	everEstablished bool
	agentName       string
	agentUserID     string
	agentUUID       string
	queuePosition   int
	autoAcceptAt    time.Time

	lastClientSeq    int64 // last applied X-LIVEAGENT-SEQUENCE; 0 = none
	nextSeq          int64 // sequence of the next 200 payload
	offset           int64
	pending          []outEvent
	unacked          *batch
	wake             chan struct{} // closed when an event is queued or the chat ends
	active           *pollRec      // the poll holding right now, if any
	lastPollAt       time.Time
	dupKilled        bool // terminated by a duplicate poll: the holding poll answers 409
	expiredPollsLeft int
	reconnectPending bool // a 503 was served: requests with the old affinity get 503

	transcript    []TranscriptEntry
	files         []*uploadedFile
	fileReqs      []*FileRequest
	visitorTyping bool
	agentTyping   bool
	sneakPeek     string
	customEvents  []CustomEventView
	counters      Counters
}

type initInfo struct {
	OrganizationID      string
	DeploymentID        string
	ButtonID            string
	SessionID           string
	VisitorName         string
	Language            string
	UserAgent           string
	ReceiveQueueUpdates bool
	PrechatDetails      json.RawMessage
	PrechatEntities     json.RawMessage
	Body                json.RawMessage
}

type outEvent struct {
	Type    string `json:"type"`
	Message any    `json:"message"`
}

type batch struct {
	seq  int64
	body []byte
	n    int
}

type pollRec struct {
	ctx context.Context
}

func (p *pollRec) live() bool { return p != nil && p.ctx.Err() == nil }

// closedForVisitor reports whether the visitor's session is over (403 from now on, once
// pending events are delivered).
func (c *chat) closedForVisitor() bool {
	return c.state == StateEnded || c.state == StateExpired
}

// queue appends an event for the visitor and wakes a holding poll.
func (s *Sim) queue(c *chat, typ string, payload any) {
	c.pending = append(c.pending, outEvent{Type: typ, Message: payload})
	s.wakeChat(c)
}

func (s *Sim) wakeChat(c *chat) {
	close(c.wake)
	c.wake = make(chan struct{})
}

// takeBatch turns the pending events into the next 200 payload, or returns nil.
func (s *Sim) takeBatch(c *chat) []byte {
	if len(c.pending) == 0 {
		return nil
	}
	seq := c.nextSeq
	c.nextSeq++
	c.offset += int64(len(c.pending))
	body, err := json.Marshal(struct {
		Messages []outEvent `json:"messages"`
		Sequence int64      `json:"sequence"`
		Offset   int64      `json:"offset"`
	}{c.pending, seq, c.offset})
	if err != nil {
		panic("lasim: marshal batch: " + err.Error())
	}
	c.unacked = &batch{seq: seq, body: body, n: len(c.pending)}
	c.pending = nil
	c.counters.Delivered200++
	c.counters.EventsDelivered += c.unacked.n
	return body
}

// end terminates the chat. Pending events are dropped unless keepPending (the agent's ChatEnded
// or ChatRequestFail still has to reach the visitor).
func (s *Sim) end(c *chat, st State, by, reason string, keepPending bool) {
	if c.closedForVisitor() {
		return
	}
	c.state = st
	c.endAt = s.opts.Now()
	c.endedBy = by
	c.endReason = reason
	c.autoAcceptAt = time.Time{}
	c.visitorTyping, c.agentTyping = false, false
	if !keepPending {
		c.pending = nil
	}
	for _, fr := range c.fileReqs {
		if fr.Status == FileRequested {
			fr.Status = FileCanceled
		}
	}
	s.wakeChat(c)
	s.opts.Logger.Info("chat ended", "chat", c.id, "state", string(st), "by", by, "reason", reason)
	s.notify(EventChatEnded, c, "")
	s.pruneEnded()
}

// pruneEnded drops the oldest ended chats beyond MaxEndedChats.
func (s *Sim) pruneEnded() {
	n := 0
	for _, id := range s.order {
		if s.chats[id].closedForVisitor() {
			n++
		}
	}
	for i := 0; n > s.opts.MaxEndedChats && i < len(s.order); {
		c := s.chats[s.order[i]]
		if !c.closedForVisitor() || c.active.live() {
			i++
			continue
		}
		delete(s.chats, c.id)
		delete(s.byKey, c.key)
		for _, fr := range c.fileReqs {
			delete(s.fileTokens, fr.FileToken)
		}
		s.order = append(s.order[:i], s.order[i+1:]...)
		n--
	}
}

// checkExpiry expires c if it has not been polled for ClientPollTimeout and returns the time
// left before it would expire (0 if it expired or cannot expire).
func (s *Sim) checkExpiry(c *chat, now time.Time) time.Duration {
	if c.closedForVisitor() || c.active.live() {
		return 0
	}
	left := c.lastPollAt.Add(s.pollTimeout).Sub(now)
	if left > 0 {
		return left
	}
	s.expire(c)
	return 0
}

func (s *Sim) expire(c *chat) {
	c.unacked = nil
	c.expiredPollsLeft = s.opts.ExpiredPolls
	s.end(c, StateExpired, EndedBySystem, "expired", false)
}

func (s *Sim) addTranscript(c *chat, typ, name, content string) {
	c.transcript = append(c.transcript, TranscriptEntry{
		Type:      typ,
		Name:      name,
		Content:   content,
		Timestamp: s.opts.Now().UnixMilli(),
		Sequence:  int64(len(c.transcript) + 1),
	})
}

func (c *chat) visitorName() string {
	if c.init != nil {
		return c.init.VisitorName
	}
	return ""
}
