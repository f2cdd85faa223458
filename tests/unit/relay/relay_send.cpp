// relay_send: drives one relay::Client session from the command line for the e2e tests
// (tests/e2e/test_relay_client.py) and prints one JSON object: the open failure or the
// capabilities, and each recipient's reply. Exit 0 when a session ran, 2 on bad usage.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "relay/client.h"

namespace {

const char* kUsage =
    "usage: relay_send --host H --port P [--tls starttls|implicit|none] [--ca-file F]\n"
    "       [--no-verify] [--mechanism auto|plain|login|cram-md5|xoauth2] [--username U]\n"
    "       [--password P] [--ehlo NAME] [--mail-from A] --rcpt R [--rcpt R ...]\n"
    "       --message FILE [--repeat N] [--timeout SECONDS]\n";

struct Args {
  relay::ClientOptions options;
  std::string ca_file, message_file;
  bool verify = true;
  relay::Envelope envelope;
  int repeat = 1;
};

bool parse(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--no-verify") {
      args.verify = false;
      continue;
    }
    if (i + 1 >= argc) return false;
    std::string value = argv[++i];
    if (flag == "--host")
      args.options.host = value;
    else if (flag == "--port")
      args.options.port = static_cast<uint16_t>(std::stoi(value));
    else if (flag == "--tls")
      args.options.tls = value == "implicit" ? config::UpstreamTls::implicit
                         : value == "none"   ? config::UpstreamTls::none
                                             : config::UpstreamTls::starttls;
    else if (flag == "--ca-file")
      args.ca_file = value;
    else if (flag == "--mechanism")
      args.options.mechanism = value;
    else if (flag == "--username")
      args.options.username = value;
    else if (flag == "--password")
      args.options.password = value;
    else if (flag == "--ehlo")
      args.options.ehlo_name = value;
    else if (flag == "--mail-from")
      args.envelope.mail_from = value;
    else if (flag == "--rcpt")
      args.envelope.rcpt_to.push_back(value);
    else if (flag == "--message")
      args.message_file = value;
    else if (flag == "--repeat")
      args.repeat = std::stoi(value);
    else if (flag == "--timeout") {
      auto t = std::chrono::milliseconds(static_cast<int64_t>(std::stod(value) * 1000));
      args.options.timeouts = {t, t, t, t, t, t};
    } else
      return false;
  }
  return !args.options.host.empty() && !args.envelope.rcpt_to.empty() && !args.message_file.empty();
}

nlohmann::json to_json(const relay::Reply& reply) {
  return {{"code", reply.code}, {"enhanced", reply.enhanced}, {"text", reply.text}};
}

nlohmann::json to_json(const relay::Capabilities& caps) {
  return {{"esmtp", caps.esmtp},
          {"pipelining", caps.pipelining},
          {"starttls", caps.starttls},
          {"smtputf8", caps.smtputf8},
          {"8bitmime", caps.eightbitmime},
          {"size", caps.size},
          {"auth", caps.auth},
          {"tls", caps.tls},
          {"auth_used", caps.auth_used}};
}

asio::awaitable<void> run(Args& args, asio::ssl::context& tls, const std::string& data,
                          nlohmann::json& out) {
  auto executor = co_await asio::this_coro::executor;
  relay::Reply failure;
  auto client = co_await relay::Client::open(executor, args.options, tls, failure);
  if (!client) {
    out["open"] = to_json(failure);
    co_return;
  }
  out["open"] = nullptr;
  out["capabilities"] = to_json(client->capabilities());
  out["transactions"] = nlohmann::json::array();
  for (int i = 0; i < args.repeat; ++i) {
    if (i > 0 && !co_await client->reset()) break;
    relay::SendResult result = co_await client->send(args.envelope, data);
    nlohmann::json recipients = nlohmann::json::array();
    for (size_t r = 0; r < result.recipients.size(); ++r) {
      nlohmann::json item = to_json(result.recipients[r]);
      item["rcpt"] = args.envelope.rcpt_to[r];
      recipients.push_back(item);
    }
    out["transactions"].push_back({{"recipients", recipients},
                                   {"connection_usable", result.connection_usable},
                                   {"throttled", result.throttled}});
    out["recipients"] = recipients;  // the last transaction's, for convenience
  }
  co_await client->quit();
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  try {
    if (!parse(argc, argv, args)) {
      std::cerr << kUsage;
      return 2;
    }
  } catch (const std::exception&) {
    std::cerr << kUsage;
    return 2;
  }
  std::ifstream file(args.message_file, std::ios::binary);
  if (!file) {
    std::cerr << "cannot read " << args.message_file << "\n";
    return 2;
  }
  std::stringstream buffer;
  buffer << file.rdbuf();
  std::string data = buffer.str();
  std::string error;
  auto tls = relay::make_client_tls(args.verify, args.ca_file, error);
  if (!tls) {
    std::cerr << error << "\n";
    return 2;
  }
  asio::io_context io;
  nlohmann::json out = nlohmann::json::object();
  asio::co_spawn(io, run(args, *tls, data, out), asio::detached);
  io.run();
  std::cout << out.dump() << std::endl;
  return 0;
}
