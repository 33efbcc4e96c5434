#include "tests/harness/raw_client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace pushgate {

RawClient::RawClient(int port, bool connect_now)
    : fd_(socket(AF_INET, SOCK_STREAM, 0)), port_(port) {
  timeval timeout{10, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect_now) Connect();
}

RawClient::~RawClient() { close(fd_); }

void RawClient::Connect() {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port_));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
}

void RawClient::Send(absl::string_view data) {
  EXPECT_EQ(send(fd_, data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size()));
}

bool RawClient::SendAll(absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(n);
  }
  return true;
}

std::string RawClient::ReadUntil(absl::string_view end) {
  std::string all;
  char byte;
  while (!absl::StrContains(all, end) && recv(fd_, &byte, 1, 0) == 1) all.push_back(byte);
  return all;
}

std::string RawClient::ReadUntilClosed() {
  std::string all;
  char buffer[4096];
  for (;;) {
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    if (n <= 0) return n == 0 ? all : all + "<no close within 10 s>";
    all.append(buffer, n);
  }
}

}  // namespace pushgate
