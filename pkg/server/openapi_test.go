package server_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"go.yaml.in/yaml/v3"

	"github.com/line-sf-bridge/bridge/pkg/events"
	"github.com/line-sf-bridge/bridge/pkg/server"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore/redistest"
)

// api/openapi.yaml documents exactly the routes the server serves.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	raw, err := os.ReadFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	rdb := redistest.Client(t)
	d, err := events.New(rdb, events.Config{AdminAPIKey: "0123456789abcdef0123", KeyPrefix: "openapi-test",
		Endpoints: []events.Endpoint{{Name: "x", URL: "https://example.com/hook", Secret: "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", Enabled: true}}}, events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := server.New(nil, server.Options{AdminKey: "k", Admin: func(g *echo.Group) {
		server.ChatAdmin(nil)(g)
		d.RegisterAdmin(g)
	}})
	param := regexp.MustCompile(`:([a-z_]+)`)
	served := map[string]bool{}
	for _, r := range s.Echo().Routes() {
		if strings.HasSuffix(r.Path, "*") || r.Method == echo.RouteNotFound {
			continue
		}
		p := param.ReplaceAllString(r.Path, "{$1}")
		served[p] = true
		if _, ok := spec.Paths[p]; !ok {
			t.Errorf("route %s %s is not in api/openapi.yaml", r.Method, p)
		}
	}
	for p := range spec.Paths {
		if !served[p] {
			t.Errorf("api/openapi.yaml documents %s, which the server does not serve", p)
		}
	}
	if len(served) < 10 || !slices.Contains(keys(served), "/init") {
		t.Fatalf("too few routes seen: %v", keys(served))
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
