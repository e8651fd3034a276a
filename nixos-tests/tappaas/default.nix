# TAPPaaS integration on one LiteLLM VM: service keys for two consuming
# modules (each limited to its model), pruning one of them through a
# specialisation, LiteLLM's /metrics behind a key, the PostgreSQL and Redis
# exporters, and the journal shipped to a stand-in Loki.
{ lib, pkgs, ... }:
let
  # A stand-in Loki: answers pushes with 204 and counts them.
  fakeLoki = pkgs.writeText "fake-loki.py" ''
    import http.server, json

    pushes = {"count": 0, "content_types": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            pushes["count"] += 1
            pushes["content_types"].append(self.headers.get("Content-Type", ""))
            self.send_response(204)
            self.end_headers()

        def do_GET(self):
            body = json.dumps(pushes).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    http.server.ThreadingHTTPServer(("127.0.0.1", 3100), Handler).serve_forever()
  '';
in
{
  name = "tappaas";

  nodes.machine = {
    imports = [ ../common/node.nix ];

    tappaas.litellm = {
      settings.model_list = [
        {
          model_name = "test-model-b";
          litellm_params = {
            model = "openai/test-model-b";
            api_base = "http://127.0.0.1:8099/v1";
            api_key = "os.environ/FAKE_PROVIDER_KEY";
          };
        }
      ];
      serviceKeys = {
        openwebui = {
          models = [ "test-model" ];
          maxBudget = 5;
          budgetDuration = "30d";
        };
        n8n = {
          models = [ "test-model-b" ];
          rpmLimit = 600;
          metadata.team = "automation";
        };
      };
      metrics.enable = true;
      logging.lokiUrl = "http://127.0.0.1:3100/loki/api/v1/push";
    };

    systemd.services.fake-loki = {
      description = "Stand-in Loki for the tests";
      wantedBy = [ "multi-user.target" ];
      before = [ "alloy.service" ];
      serviceConfig = {
        ExecStart = "${pkgs.python3.interpreter} ${fakeLoki}";
        DynamicUser = true;
      };
    };

    # n8n removed from the option, with prune: its key must stop working.
    specialisation.pruned.configuration = {
      tappaas.litellm.serviceKeys = lib.mkForce {
        openwebui = {
          models = [ "test-model" ];
          maxBudget = 5;
          budgetDuration = "30d";
        };
      };
      tappaas.litellm.serviceKeysPrune = true;
    };
  };

  testScript = builtins.readFile ./tappaas.py;
}
