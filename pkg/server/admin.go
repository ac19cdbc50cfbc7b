package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// Chats is what the chat admin API needs (*bridge.Bridge).
type Chats interface {
	Active(ctx context.Context, limit int) ([]bridge.Chat, error)
	Chat(ctx context.Context, c bridge.CustomerID) (bridge.Chat, error)
	Transcript(ctx context.Context, c bridge.CustomerID, id bridge.ChatID) ([]bridge.Event, error)
}

// chatView is a chat as the admin API shows it: no desk state (it holds
// the Live Agent session key).
type chatView struct {
	Customer  bridge.CustomerID `json:"customer"`
	ID        bridge.ChatID     `json:"id"`
	Status    bridge.Status     `json:"status"`
	Desk      string            `json:"desk"`
	Visitor   string            `json:"visitor_name"`
	AgentName string            `json:"agent_name,omitempty"`
	EndReason bridge.EndReason  `json:"end_reason,omitempty"`
	CreatedAt string            `json:"created_at"`
	EndedAt   string            `json:"ended_at,omitempty"`
}

func viewOf(ch bridge.Chat) chatView {
	v := chatView{Customer: ch.Customer, ID: ch.ID, Status: ch.Status, Desk: ch.Desk, Visitor: ch.Visitor.DisplayName,
		AgentName: ch.AgentName, EndReason: ch.EndReason, CreatedAt: ch.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
	if !ch.EndedAt.IsZero() {
		v.EndedAt = ch.EndedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	return v
}

// ChatAdmin registers GET /chats (active chats) and GET /chats/:customer
// (one customer's current chat with its events) on an admin group.
func ChatAdmin(chats Chats) func(*echo.Group) {
	return func(g *echo.Group) {
		g.GET("/chats", func(c echo.Context) error {
			limit := 100
			if s := c.QueryParam("limit"); s != "" {
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 || n > 1000 {
					return echo.NewHTTPError(http.StatusBadRequest, "limit must be 1–1000")
				}
				limit = n
			}
			list, err := chats.Active(c.Request().Context(), limit)
			if err != nil {
				return echo.NewHTTPError(http.StatusServiceUnavailable, "store unavailable").SetInternal(err)
			}
			out := make([]chatView, len(list))
			for i, ch := range list {
				out[i] = viewOf(ch)
			}
			return c.JSON(http.StatusOK, map[string]any{"chats": out})
		})
		g.GET("/chats/:customer", func(c echo.Context) error {
			id := bridge.CustomerID(c.Param("customer"))
			ch, err := chats.Chat(c.Request().Context(), id)
			if errors.Is(err, bridge.ErrNoChat) {
				return echo.NewHTTPError(http.StatusNotFound, "no chat for this customer")
			}
			if err != nil {
				return echo.NewHTTPError(http.StatusServiceUnavailable, "store unavailable").SetInternal(err)
			}
			evs, err := chats.Transcript(c.Request().Context(), id, ch.ID)
			if err != nil {
				return echo.NewHTTPError(http.StatusServiceUnavailable, "store unavailable").SetInternal(err)
			}
			return c.JSON(http.StatusOK, map[string]any{"chat": viewOf(ch), "events": evs})
		})
	}
}
