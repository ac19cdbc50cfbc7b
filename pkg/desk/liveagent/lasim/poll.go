package lasim

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// handleMessages: GET System/Messages?ack=N, the long poll.
//
//   - A second poll while one is holding answers 409 and terminates the chat; the holding poll
//     answers 409 too. A poll whose client went away (request context done) no longer holds.
//   - ack < the sequence of the un-acked payload: that payload again (same sequence, same bytes).
//   - otherwise (including a missing ack) the payload is acked; pending events are sent at once
//     as the next sequence, or the poll holds until an event is queued (then 200) or HoldTime
//     passes (204).
//   - after the end of a chat, pending events (ChatEnded, ChatRequestFail) are still delivered,
//     then every poll answers 403 (after an expiry, the first ExpiredPolls polls answer 204).
func (s *Sim) handleMessages(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rsp := s.poll(r)
	s.mu.Unlock()
	if rsp != nil {
		rsp.write(w)
	}
}

// poll is called with s.mu held and returns with it held; it releases it while holding.
func (s *Sim) poll(r *http.Request) *resp {
	key := r.Header.Get(HeaderSessionKey)
	// Every poll of a known session counts as polling, even one answered with an error (a
	// visitor retrying 503s is still there), but only after a due expiry has been applied.
	if c := s.byKey[key]; c != nil && key != "" {
		now := s.opts.Now()
		s.checkExpiry(c, now)
		c.counters.Polls++
		if !c.closedForVisitor() {
			c.lastPollAt = now
		}
	}
	c, rsp := s.gate(r, "messages", key, affExact)
	if rsp != nil {
		return rsp
	}
	if c.active.live() && !c.closedForVisitor() {
		c.counters.Conflicts409++
		c.dupKilled = true
		s.end(c, StateEnded, EndedBySystem, "duplicatePoll", false)
		return plainResp(http.StatusConflict, dupPollBody)
	}
	ack, hasAck, err := parseAck(r)
	if err != nil {
		return plainResp(http.StatusBadRequest, "Invalid ack: "+err.Error())
	}
	if hasAck && c.unacked != nil && ack < c.unacked.seq {
		c.counters.Redelivered++
		s.notify(EventChatUpdated, c, "")
		return &resp{status: http.StatusOK, ctype: "application/json;charset=UTF-8", body: c.unacked.body}
	}
	c.unacked = nil

	timer := time.NewTimer(s.holdTime)
	defer timer.Stop()
	var p *pollRec
	ghost := false // an expired session answering 204 (Options.ExpiredPolls)
	finish := func(rsp *resp) *resp {
		if p != nil && c.active == p {
			c.active = nil
		}
		c.lastPollAt = s.opts.Now()
		if rsp != nil && rsp.status == http.StatusNoContent {
			c.counters.Empty204++
		}
		s.notify(EventChatUpdated, c, "")
		s.life.Wake()
		return rsp
	}
	for {
		if !ghost {
			if body := s.takeBatch(c); body != nil {
				return finish(&resp{status: http.StatusOK, ctype: "application/json;charset=UTF-8", body: body})
			}
			if c.closedForVisitor() {
				switch {
				case c.dupKilled && p != nil:
					return finish(plainResp(http.StatusConflict, dupPollBody))
				case c.state == StateExpired && c.expiredPollsLeft > 0:
					// Answer 204 after the hold, like a live session with nothing to say.
					c.expiredPollsLeft--
					ghost = true
				default:
					return finish(forbidden(c))
				}
			}
		}
		if p == nil && !ghost {
			p = &pollRec{ctx: r.Context()}
			c.active = p
			s.notify(EventChatUpdated, c, "")
		}
		wake := c.wake
		s.mu.Unlock()
		var timedOut, gone, closing bool
		select {
		case <-wake:
		case <-timer.C:
			timedOut = true
		case <-r.Context().Done():
			gone = true
		case <-s.life.Done():
			closing = true
		}
		s.mu.Lock()
		switch {
		case gone:
			finish(nil)
			return nil // the client is gone; nothing to write
		case timedOut, closing:
			return finish(&resp{status: http.StatusNoContent})
		}
	}
}

func parseAck(r *http.Request) (int64, bool, error) {
	q := r.URL.Query()
	if !q.Has("ack") {
		return 0, false, nil
	}
	v := strings.TrimSpace(q.Get("ack"))
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false, err
	}
	return n, true, nil
}
