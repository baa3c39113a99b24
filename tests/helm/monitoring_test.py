"""deploy/prometheus and deploy/grafana: the alert rules pass
`promtool check rules` and their unit tests (`promtool test rules`), every
alert has a test in which it fires, the example Prometheus configuration
passes `promtool check config`, and every query of the Grafana dashboard is
valid PromQL (checked by promtool) over Weir's own metric names.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

import yaml

RULES = "deploy/prometheus/weir-alerts.yaml"
RULE_TESTS = "deploy/prometheus/weir-alerts_test.yaml"
PROMETHEUS_CONFIG = "deploy/prometheus/prometheus.example.yml"
DASHBOARD = "deploy/grafana/weir-dashboard.json"

# The metrics Weir exports (queryd, then each collector) and the few others
# the rules and the dashboard read.
KNOWN_METRICS = {
    "weir_packets_total", "weir_bytes_total", "weir_flows_total", "weir_active_connections",
    "weir_ingest_batches_total", "weir_ingest_records_total", "weir_ingest_rejects_total",
    "weir_ingest_lag_seconds", "weir_collector_lost_packets_total", "weir_store_bytes",
    "weir_ip_bytes_total",
    "weir_collector_packets_seen_total", "weir_collector_packets_exported_total",
    "weir_collector_unexplained_packets", "weir_collector_connected",
    "up", "kubelet_volume_stats_used_bytes", "kubelet_volume_stats_capacity_bytes",
    "kubelet_volume_stats_available_bytes",
}
METRIC_NAME = re.compile(r"\b((?:weir|kubelet)_[a-z0-9_]+|up)\b(?=\s*[{\[)]|\s*$|\s*[=!<>*/+-])")


def promtool(*args):
    p = subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def metrics_in(expr):
    # Drop label matchers' values and label lists so only names remain.
    stripped = re.sub(r'"[^"]*"', '""', expr)
    stripped = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", stripped)
    return set(METRIC_NAME.findall(stripped))


class MonitoringTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        with open(RULES) as f:
            cls.rules = yaml.safe_load(f)
        with open(RULE_TESTS) as f:
            cls.rule_tests = yaml.safe_load(f)
        with open(DASHBOARD) as f:
            cls.dashboard = json.load(f)

    def alerts(self):
        return [r for g in self.rules["groups"] for r in g["rules"] if "alert" in r]

    def test_promtool_check_rules(self):
        rc, out = promtool("check", "rules", RULES)
        self.assertEqual(rc, 0, out)
        self.assertIn(f"SUCCESS: {len(self.alerts())} rules found", out)

    def test_promtool_test_rules(self):
        rc, out = promtool("test", "rules", RULE_TESTS)
        self.assertEqual(rc, 0, out)
        self.assertIn("SUCCESS", out)

    def test_promtool_check_config(self):
        rc, out = promtool("check", "config", PROMETHEUS_CONFIG)
        self.assertEqual(rc, 0, out)

    def test_the_issue_s_alerts_exist(self):
        names = {r["alert"] for r in self.alerts()}
        for want in ("WeirCollectorDown", "WeirPacketLoss", "WeirIngestLagHigh", "WeirStoreNearFull"):
            self.assertIn(want, names)

    def test_every_alert_fires_in_a_unit_test(self):
        fired = {case["alertname"] for t in self.rule_tests["tests"]
                 for case in t.get("alert_rule_test", []) if case.get("exp_alerts")}
        silent = {case["alertname"] for t in self.rule_tests["tests"]
                  for case in t.get("alert_rule_test", []) if not case.get("exp_alerts")}
        names = {r["alert"] for r in self.alerts()}
        self.assertEqual(names - fired, set(), "alerts no test sees firing")
        self.assertGreaterEqual(len(silent & names), 6, "tests that an alert stays quiet")

    def test_alerts_are_described(self):
        for rule in self.alerts():
            with self.subTest(alert=rule["alert"]):
                self.assertIn(rule["labels"]["severity"], ("warning", "critical"))
                self.assertTrue(rule["annotations"]["summary"])
                self.assertTrue(rule["annotations"]["description"])
                self.assertIn("for", rule)
                self.assertLessEqual(metrics_in(rule["expr"]), KNOWN_METRICS)
                self.assertTrue(metrics_in(rule["expr"]), rule["expr"])

    def panels(self):
        out = []
        for p in self.dashboard["panels"]:
            out.append(p)
            out.extend(p.get("panels", []))
        return out

    def test_dashboard_layout(self):
        d = self.dashboard
        self.assertEqual(d["uid"], "weir-overview")
        self.assertTrue(d["title"])
        ids = [p["id"] for p in self.panels()]
        self.assertEqual(len(ids), len(set(ids)), "panel ids are unique")
        cells = set()
        for p in self.panels():
            g = p["gridPos"]
            self.assertLessEqual(g["x"] + g["w"], 24, p["title"])
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    self.assertNotIn((x, y), cells, f"panel {p['title']!r} overlaps another")
                    cells.add((x, y))
        variables = {v["name"] for v in d["templating"]["list"]}
        self.assertEqual(variables, {"datasource", "node"})
        titles = " ".join(p["title"].lower() for p in self.panels())
        for topic in ("direction", "node", "top", "lost", "lag", "store"):
            self.assertIn(topic, titles)

    def test_dashboard_queries_are_valid_promql(self):
        substitutions = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "6h",
                         "$node": "node-a|node-b"}
        rules = []
        for p in self.panels():
            if p["type"] == "row":
                continue
            self.assertEqual(p["datasource"], {"type": "prometheus", "uid": "${datasource}"}, p["title"])
            self.assertTrue(p.get("targets"), f"panel {p['title']!r} has no query")
            for t in p["targets"]:
                expr = t["expr"]
                used = metrics_in(expr)
                self.assertTrue(used, f"{p['title']}: {expr}")
                self.assertLessEqual(used, KNOWN_METRICS, f"{p['title']}: unknown metric in {expr}")
                for var in re.findall(r"\$\w+", expr):
                    self.assertIn(var, substitutions, f"{p['title']}: unknown variable {var}")
                for k, v in substitutions.items():
                    expr = expr.replace(k, v)
                rules.append({"record": f"weir:dashboard:{p['id']}_{t['refId']}", "expr": expr})
        node_query = self.dashboard["templating"]["list"][1]["query"]["query"]
        self.assertTrue(node_query.startswith("label_values("))
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False,
                                         dir=os.environ.get("TEST_TMPDIR")) as f:
            yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
        rc, out = promtool("check", "rules", f.name)
        self.assertEqual(rc, 0, out)
        self.assertIn(f"SUCCESS: {len(rules)} rules found", out)
        self.assertGreaterEqual(len(rules), 20)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
