# workerd serving hello.js on 127.0.0.1:18060 (benches/load.sh, when WORKERD names a binary).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "hello", worker = .helloWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:18060", http = (), service = "hello") ],
);

const helloWorker :Workerd.Worker = (
  serviceWorkerScript = embed "hello.js",
  compatibilityDate = "2024-09-23",
  bindings = [ (name = "EDGE_REGION", text = "bench") ],
);
