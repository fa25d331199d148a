#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace edgehub::testing {

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released). Tests
/// pass it to a child; the kernel does not hand the same ephemeral port out again immediately.
std::uint16_t free_tcp_port();

/// `n` distinct such ports: every socket stays bound until all are chosen, so the kernel cannot
/// hand the same port out twice (as separate free_tcp_port() calls may).
std::vector<std::uint16_t> free_tcp_ports(std::size_t n);

/// True when something accepts TCP connections on 127.0.0.1:port.
bool tcp_port_open(std::uint16_t port);

}  // namespace edgehub::testing
