package configs

import (
	"slices"
	"strings"
	"testing"
)

func TestAdmin(t *testing.T) {
	topo, err := Parse("admin.yaml", []byte(minimal+"admin: {token_env: TERN_ADMIN_TOKEN, hosts: [ops.example, \"*.ops.example\", \"[2001:db8::1]\"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if topo.Admin.TokenEnv != "TERN_ADMIN_TOKEN" || !slices.Equal(topo.Admin.Hosts, []string{"ops.example", "*.ops.example", "[2001:db8::1]"}) {
		t.Errorf("admin = %+v", topo.Admin)
	}
	if !topo.HasAdminToken() {
		t.Error("HasAdminToken false with token_env")
	}
	topo, err = Parse("none.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if topo.HasAdminToken() {
		t.Error("HasAdminToken true without a token")
	}

	line := 1 + strings.Count(minimal, "\n")
	checkParseErrors(t, "admin.yaml", minimal+"admin: {token_env: T, token_file: t, hosts: [Ops.example, \"ops.example:9100\"]}\n", []want{
		{line, "admin.token_file", "not both"},
		{line, "admin.hosts[0]", "must be lower case"},
		{line, "admin.hosts[1]", "must not have a port"},
	})
}
