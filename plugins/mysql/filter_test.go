package mysql

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func runFilter(t *testing.T, in string) (string, *filter, error) {
	t.Helper()
	f := &filter{}
	var out bytes.Buffer
	err := f.run("dump.sql", bufio.NewReaderSize(strings.NewReader(in), 256), &out)
	return out.String(), f, err
}

func TestFilter(t *testing.T) {
	long := "INSERT INTO `t` VALUES ('" + strings.Repeat("USE `x`;", 100) + "');\n"
	tests := []struct {
		name, in, want, rewritten, err string
	}{
		{"untouched", "CREATE TABLE t (a INT);\nINSERT INTO t VALUES (1);\n", "CREATE TABLE t (a INT);\nINSERT INTO t VALUES (1);\n", "", ""},
		{"databases",
			"/*!40000 DROP DATABASE IF EXISTS `shop`*/;\n\nCREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;\n\nUSE `shop`;\nCREATE TABLE t (a INT);\n",
			"\n\nCREATE TABLE t (a INT);\n", "removed DROP DATABASE/CREATE DATABASE/USE for `shop`", ""},
		{"plain forms", "CREATE DATABASE IF NOT EXISTS shop;\r\nuse shop;\r\nx\n", "x\n", "removed CREATE DATABASE/USE for `shop`", ""},
		{"quoted backtick", "USE `a``b`;\n", "", "removed USE for `a``b`", ""},
		{"version comment", "/*!32312 USE `shop`*/;\n", "", "removed USE for `shop`", ""},
		{"long lines pass", long, long, "", ""},
		{"indented is not top level", "  USE `x`;\n", "  USE `x`;\n", "", ""},
		{"several", "USE `a`;\nCREATE TABLE t (a INT);\nUSE `b`;\n", "", "", "dump holds several databases (`a`, `b`)"},
		{"multi-line create", "CREATE DATABASE `a`\n  CHARACTER SET utf8;\n", "", "", "line 1: a CREATE DATABASE statement drill cannot rewrite"},
		{"two statements", "USE `a`; DROP TABLE x;\n", "", "", "USE statement drill cannot rewrite"},
		{"no final newline", "USE `a`;\nSELECT 1;", "SELECT 1;", "removed USE for `a`", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, f, err := runFilter(t, tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if r := f.rewritten(); r != tt.rewritten {
				t.Errorf("rewritten %q, want %q", r, tt.rewritten)
			}
		})
	}
}

func TestFilterCompleted(t *testing.T) {
	_, f, _ := runFilter(t, "SELECT 1;\n-- Dump completed on 2024-01-01\n\n")
	if !f.completed {
		t.Error("trailer not seen")
	}
	_, f, _ = runFilter(t, "-- Dump completed on 2024-01-01\nSELECT 1;\n")
	if f.completed {
		t.Error("trailer seen before the end")
	}
}

func TestLooksLikeDump(t *testing.T) {
	tests := []struct {
		in, tool string
		ok       bool
	}{
		{"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)\n", "MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)", true},
		{"-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n", "MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)", true},
		{"\n-- hand written\n/*!40101 SET NAMES utf8mb4 */;\n", "", true},
		{"create table t (a int);", "", true},
		{"hello world\n", "", false},
		{"", "", false},
		{"CREATE TABLE t\x00", "", false},
	}
	for _, tt := range tests {
		tool, ok := looksLikeDump([]byte(tt.in))
		if tool != tt.tool || ok != tt.ok {
			t.Errorf("looksLikeDump(%q) = %q, %v; want %q, %v", tt.in, tool, ok, tt.tool, tt.ok)
		}
	}
}

func TestRedactServer(t *testing.T) {
	for in, want := range map[string]string{
		"mysql://root:s3cret@db:3306/": "mysql://root@db:3306/",
		"mysql://root@db:3306/":        "mysql://root@db:3306/",
		"mysql://:pw@db/":              "mysql://db/",
		"::not a url":                  "(server URL not shown)",
	} {
		if got := redactServer(in); got != want {
			t.Errorf("redactServer(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOptionValue(t *testing.T) {
	if got, want := optionValue("a\"b\\c#d\ne"), `"a\"b\\c#d\ne"`; got != want {
		t.Errorf("optionValue = %s, want %s", got, want)
	}
}

func TestAllDatabasesHeader(t *testing.T) {
	for _, tt := range []struct {
		name, head string
		want       bool
	}{
		{"all", "-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n--\n-- Host: 127.0.0.1    Database: \n-- ----\n", true},
		{"mysqldump all", "-- MySQL dump 10.13  Distrib 8.0.36\r\n--\r\n-- Host: localhost    Database: \r\n", true},
		{"one", "-- MariaDB dump 10.19\n--\n-- Host: 127.0.0.1    Database: shop\n", false},
		{"no header", "CREATE TABLE t (a INT);\n", false},
		{"host line later", "CREATE TABLE t (a INT);\n" + strings.Repeat("\n", 20) + "-- Host: x    Database: \n", false},
	} {
		if got := allDatabases([]byte(tt.head)); got != tt.want {
			t.Errorf("%s: allDatabases = %v, want %v", tt.name, got, tt.want)
		}
	}
}
