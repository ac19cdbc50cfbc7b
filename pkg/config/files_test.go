package config_test

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/viper"

	"github.com/line-sf-bridge/bridge/pkg/config"
)

const (
	exampleFile = "../../configs/config.example.yaml"
	appJSONFile = "../../app.json"
)

// TestExampleFileIsTheDefaults: loading configs/config.example.yaml gives exactly the
// defaults, so the file documents them truthfully.
func TestExampleFileIsTheDefaults(t *testing.T) {
	c := mustLoad(t, nil, exampleFile)
	if c.File() != exampleFile {
		t.Errorf("File() = %q", c.File())
	}
	want := config.Default()
	got, wantV := reflect.ValueOf(*c), reflect.ValueOf(want)
	for i := 0; i < got.NumField(); i++ {
		f := got.Type().Field(i)
		if !f.IsExported() {
			continue // where the config came from
		}
		if !reflect.DeepEqual(got.Field(i).Interface(), wantV.Field(i).Interface()) {
			t.Errorf("%s: example file gives %#v, default is %#v", f.Name, got.Field(i).Interface(), wantV.Field(i).Interface())
		}
	}
	if len(c.Notes()) != 0 || len(c.Warnings()) != len(want.Warnings()) {
		t.Errorf("example file: notes %q, warnings %q", c.Notes(), c.Warnings())
	}
}

var envWord = regexp.MustCompile(`\b[A-Z][A-Z0-9_]+\b`)

// TestExampleFileNamesEveryVariable: every key of the example file is a bound key, every
// bound key is in the file, and the file's comments name every variable.
func TestExampleFileNamesEveryVariable(t *testing.T) {
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if _, comment, ok := strings.Cut(line, "#"); ok {
			for _, w := range envWord.FindAllString(comment, -1) {
				named[w] = true
			}
		}
	}
	for _, v := range config.EnvVars() {
		if !named[v.Name] {
			t.Errorf("%s (%s) is not named in %s", v.Name, v.Key, exampleFile)
		}
	}

	v := viper.New()
	v.SetConfigFile(exampleFile)
	if err := v.ReadInConfig(); err != nil {
		t.Fatal(err)
	}
	bound := map[string]bool{"events.endpoints": true} // file only
	for _, e := range config.EnvVars() {
		bound[e.Key] = true
	}
	for _, k := range v.AllKeys() {
		if !bound[k] {
			t.Errorf("%s: key %s is bound to no variable", exampleFile, k)
		}
		delete(bound, k)
	}
	for k := range bound {
		t.Errorf("%s: key %s is missing", exampleFile, k)
	}
}

// heroku sets these itself; aliases are not offered to deployers.
var notInAppJSON = []string{"PORT", "REDIS_URL", "REDIS_TLS_URL"}

type appJSON struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Repository  string `json:"repository"`
	Keywords    []string
	SuccessURL  string `json:"success_url"`
	Env         map[string]struct {
		Description string  `json:"description"`
		Value       *string `json:"value"`
		Required    *bool   `json:"required"`
		Generator   string  `json:"generator"`
	} `json:"env"`
	Addons []struct {
		Plan string `json:"plan"`
	} `json:"addons"`
	Buildpacks []struct {
		URL string `json:"url"`
	} `json:"buildpacks"`
	Formation map[string]struct {
		Quantity int    `json:"quantity"`
		Size     string `json:"size"`
	} `json:"formation"`
}

func readAppJSON(t *testing.T) appJSON {
	t.Helper()
	data, err := os.ReadFile(appJSONFile)
	if err != nil {
		t.Fatal(err)
	}
	var a appJSON
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatalf("app.json: %v", err)
	}
	return a
}

// TestAppJSONMatchesConfig keeps app.json true to the code: every variable the config binds
// is offered (but PORT and REDIS_*, which Heroku sets, and fallback names), nothing else is,
// each is described and optional unless it is one of the four Live Agent ids, and every
// pre-filled value is the code's default.
func TestAppJSONMatchesConfig(t *testing.T) {
	a := readAppJSON(t)
	want := map[string]config.EnvVar{}
	for _, v := range config.EnvVars() {
		if !v.Alias && !slices.Contains(notInAppJSON, v.Name) {
			want[v.Name] = v
		}
	}
	for name := range want {
		if _, ok := a.Env[name]; !ok {
			t.Errorf("app.json lacks %s", name)
		}
	}
	required := []string{"LIVEAGENT_HOST", "LIVEAGENT_ORGANIZATION_ID", "LIVEAGENT_DEPLOYMENT_ID", "LIVEAGENT_BUTTON_ID"}
	for name, e := range a.Env {
		v, ok := want[name]
		if !ok {
			t.Errorf("app.json offers %s, which the config does not read", name)
			continue
		}
		if strings.TrimSpace(e.Description) == "" {
			t.Errorf("app.json %s has no description", name)
		}
		if e.Required == nil {
			t.Errorf(`app.json %s: say "required" explicitly (Heroku treats a missing one as true)`, name)
		} else if *e.Required != slices.Contains(required, name) {
			t.Errorf("app.json %s: required=%v", name, *e.Required)
		}
		if e.Value != nil {
			if *e.Value != v.Default {
				t.Errorf("app.json %s: value %q, but the code's default is %q", name, *e.Value, v.Default)
			}
			c := mustLoad(t, map[string]string{name: *e.Value}, "")
			if c.GoString() != config.Default().GoString() {
				t.Errorf("app.json %s=%q does not load as the default", name, *e.Value)
			}
		}
		wantGen := name == "BRIDGE_API_KEY" || name == "ADMIN_API_KEY"
		if (e.Generator == "secret") != wantGen || (e.Generator != "" && e.Generator != "secret") {
			t.Errorf("app.json %s: generator %q", name, e.Generator)
		}
		if v.Secret && e.Value != nil && *e.Value != "" {
			t.Errorf("app.json %s is a secret with a value", name)
		}
	}
	if a.Name == "" || a.Description == "" || a.Repository != "https://github.com/line-sf-bridge/bridge" || len(a.Keywords) == 0 {
		t.Errorf("app.json metadata: %+v", a)
	}
	if a.SuccessURL != "/healthz" {
		t.Errorf("success_url = %q", a.SuccessURL)
	}
	if len(a.Addons) != 1 || a.Addons[0].Plan != "heroku-redis:mini" {
		t.Errorf("addons = %+v", a.Addons)
	}
	if len(a.Buildpacks) != 1 || a.Buildpacks[0].URL != "heroku/go" {
		t.Errorf("buildpacks = %+v", a.Buildpacks)
	}
	if w, ok := a.Formation["web"]; !ok || w.Quantity != 1 || w.Size != "basic" {
		t.Errorf("formation = %+v", a.Formation)
	}
}
