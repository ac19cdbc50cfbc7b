package lasim

import (
	_ "embed"
	"net/http"
)

//go:embed console.html
var consoleHTML []byte

// handleConsole serves the agent console page (it uses /control/… and /control/events).
func (s *Sim) handleConsole(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(consoleHTML)
}
