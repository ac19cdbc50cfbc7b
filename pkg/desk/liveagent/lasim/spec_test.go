package lasim

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPISpecIsCurrent checks that api/liveagent-sim.yaml documents exactly the control
// routes the simulator serves (method and path).
func TestOpenAPISpecIsCurrent(t *testing.T) {
	f, err := os.Open("../../../../api/liveagent-sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var spec []string
	path := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "  /") && strings.HasSuffix(line, ":"):
			path = strings.TrimSuffix(strings.TrimSpace(line), ":")
		case !strings.HasPrefix(line, "  ") && line != "":
			path = ""
		case path != "" && strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "     "):
			m := strings.TrimSuffix(strings.TrimSpace(line), ":")
			if slices.Contains([]string{"get", "post", "put", "patch", "delete"}, m) {
				spec = append(spec, strings.ToUpper(m)+" "+path)
			}
		}
	}
	s := New(Options{})
	defer s.Close()
	var code []string
	for _, r := range s.controlRouteTable() {
		code = append(code, r.pattern)
	}
	slices.Sort(spec)
	slices.Sort(code)
	if !slices.Equal(spec, code) {
		for _, r := range code {
			if !slices.Contains(spec, r) {
				t.Errorf("route %s is not in api/liveagent-sim.yaml", r)
			}
		}
		for _, r := range spec {
			if !slices.Contains(code, r) {
				t.Errorf("api/liveagent-sim.yaml documents %s, which is not served", r)
			}
		}
	}
	if len(code) < 20 {
		t.Errorf("only %d routes parsed", len(code))
	}
}
