// The test DNS server (dns_server.h): dnsmasq with a configuration file of our records (the file
// form keeps commas and quotes inside TXT values, which the command line splits), the child of
// this process, killed with the thread that started it (PR_SET_PDEATHSIG).
#include "dns_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace test_support {
namespace {

// Binds `type` on 127.0.0.1:port (0 = any); the socket, or -1.
int bound_socket(int type, int port) {
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int port_of(int fd) {
  sockaddr_in address{};
  socklen_t size = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  return ntohs(address.sin_port);
}

// A port free for UDP and TCP at this moment (dnsmasq listens on both).
int free_port() {
  for (;;) {
    int udp = bound_socket(SOCK_DGRAM, 0);
    if (udp < 0) return 0;
    int port = port_of(udp);
    int tcp = bound_socket(SOCK_STREAM, port);
    close(udp);
    if (tcp >= 0) {
      close(tcp);
      return port;
    }
  }
}

std::string quoted(const std::string& value) {
  std::string text = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') text += '\\';
    text += c;
  }
  return text + "\"";
}

// Ready when a query over UDP (what the resolver uses first) gets any answer: a TXT query for
// ready.test, RD set (RFC 1035 4.1), answered within 200 ms.
bool answers(int port) {
  static const unsigned char query[] = {0x5b, 0x1d, 0x01, 0x00, 0,   1,   0,   0,   0, 0,
                                        0,    0,    5,    'r',  'e', 'a', 'd', 'y', 4, 't',
                                        'e',  's',  't',  0,    0,   16,  0,   1};
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  timeval wait{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  unsigned char reply[512];
  bool ok = sendto(fd, query, sizeof query, 0, reinterpret_cast<sockaddr*>(&address),
                   sizeof address) == static_cast<ssize_t>(sizeof query) &&
            recv(fd, reply, sizeof reply, 0) >= 12 && reply[0] == query[0] && reply[1] == query[1];
  close(fd);
  return ok;
}

}  // namespace

bool DnsServer::start(const DnsRecords& records, std::string& error) {
  stop();
  namespace fs = std::filesystem;
  char folder_template[] = "/tmp/smtp-bridge-dns-XXXXXX";
  if (!mkdtemp(folder_template)) {
    error = "mkdtemp failed";
    return false;
  }
  const std::string folder = folder_template;
  const std::string conf = folder + "/dnsmasq.conf";
  {
    std::ofstream out(conf);
    out << "local-ttl=300\n";  // cacheable answers (dnsmasq gives its own records TTL 0)
    for (const std::string& zone : records.zones) out << "local=/" << zone << "/\n";
    for (const auto& txt : records.txt)
      out << "txt-record=" << txt.name << "," << quoted(txt.value) << "\n";
    for (const auto& a : records.addresses) out << "host-record=" << a.name << "," << a.ip << "\n";
    for (const auto& mx : records.mx)
      out << "mx-host=" << mx.name << "," << mx.exchange << "," << mx.preference << "\n";
  }
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (port_ == 0 || attempt > 0) port_ = free_port();
    const std::string args[] = {"/usr/sbin/dnsmasq",
                                "--keep-in-foreground",
                                "--conf-file=" + conf,
                                "--no-resolv",
                                "--no-hosts",
                                "--no-poll",
                                "--bind-interfaces",
                                "--listen-address=127.0.0.1",
                                "--port=" + std::to_string(port_),
                                "--pid-file=",
                                "--log-facility=" + folder + "/log"};
    char* argv[std::size(args) + 1] = {};
    for (size_t i = 0; i < std::size(args); ++i) argv[i] = const_cast<char*>(args[i].c_str());
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      int null = open("/dev/null", O_RDWR);
      dup2(null, 0), dup2(null, 1), dup2(null, 2);
      execv(argv[0], argv);
      _exit(127);
    }
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < end) {
      if (answers(port_)) {
        fs::remove_all(folder);  // dnsmasq read its configuration at start
        return true;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) break;  // the port was taken: another one
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop();
  }
  std::error_code ignored;
  fs::remove_all(folder, ignored);
  error = "dnsmasq did not start (is dnsmasq-base installed?)";
  return false;
}

void DnsServer::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

SilentDns::SilentDns() {
  udp_ = bound_socket(SOCK_DGRAM, 0);
  port_ = udp_ < 0 ? 0 : port_of(udp_);
}

SilentDns::~SilentDns() {
  if (udp_ >= 0) close(udp_);
}

}  // namespace test_support
