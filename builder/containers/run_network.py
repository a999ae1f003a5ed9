"""A container's bridge attachment (or rootless slirp4netns) and published ports, set up
around its start and torn down together (the run path of builder.containers.run)."""

from __future__ import annotations

from runtime import userns

from ..store.store import Store


class Network:
    """The bridge attachment and published ports of one container, torn down together."""

    def __init__(self, store: Store, prep, req):  # (run.Prepared, request.RunRequest)
        self.store, self.prep, self.req = store, prep, req
        self.proxies: list = []
        self.host_ifname = None
        self.slirp = None
        self.detaching = None  # the thread deleting the host's veth, and what it raised
        self.detach_errors: list[BaseException] = []
        self.released = False  # the bridge address given back

    def setup_before_start(self) -> None:
        if self.req.network != "bridge" or userns.active() is not None:  # rootless: slirp4netns, in attach
            return
        from runtime.network import ensure_bridge

        from .ipam import bridge_config  # (here: --network none loads no ipam)

        ensure_bridge(bridge_config())
        for mapping in self.prep.ports:
            from runtime.portproxy import Proxy

            self.proxies.append(Proxy(mapping, str(self.prep.address)))
        if self.proxies:  # the host ports bound, for ps and port (-P's were picked by the kernel)
            self.prep.cdir.write_state(ports=[
                {"host_ip": p.mapping.host_ip, "host_port": p.sock.getsockname()[1],
                 "container_port": p.mapping.container_port, "protocol": p.mapping.protocol}
                for p in self.proxies])

    def attach(self, pid: int) -> None:
        if self.req.network != "bridge":
            return
        if userns.active() is not None:
            from runtime import slirp

            self.slirp = slirp.Slirp(pid, api=bool(self.req.ports))
            for m in self.req.ports:
                self.slirp.forward(m.protocol, m.host_ip, m.host_port, m.container_port)
            return
        from runtime.network import attach

        from .ipam import bridge_config

        self.host_ifname = "cairn" + self.prep.cdir.id[:8]
        attach(bridge_config(), pid, self.prep.address, self.host_ifname)
        for proxy in self.proxies:
            proxy.start()

    def attach_in_thread(self, pid: int):
        """attach(pid) in a thread (on cgroup v1 the first cgroup write waits an RCU grace
        period: the netlink work fits in it); join_attach raises what it raised."""
        if self.req.network != "bridge":
            return None
        import threading

        failed: list[BaseException] = []

        def wire() -> None:
            try:
                self.attach(pid)
            except BaseException as err:  # re-raised by join_attach, in the caller's thread
                failed.append(err)

        thread = threading.Thread(target=wire, name="cairn-run-net")
        thread.start()
        return thread, failed

    @staticmethod
    def join_attach(wiring) -> None:
        if wiring is not None:
            wiring[0].join()
            if wiring[1]:
                raise wiring[1][0]

    def teardown(self) -> None:
        """Idempotent: run calls it as soon as the container has exited, and again at the end."""
        if self.slirp is not None:
            self.slirp, slirp = None, self.slirp
            slirp.close()
        self.proxies, proxies = [], self.proxies
        for proxy in proxies:
            proxy.close()
        release = self.prep.address is not None and not self.released
        self.released = True
        if self.host_ifname is not None:
            # deleting a veth waits in the kernel (~20 ms here, an RCU grace period): in a thread,
            # which then gives the address back, while the cgroup and the container's directory
            # go; wait_detached() joins it
            import threading

            self.detaching = threading.Thread(target=self._detach, args=(self.host_ifname, release),
                                              name="cairn-veth-delete")
            self.host_ifname = None
            self.detaching.start()
        elif release:
            self._release()

    def _release(self) -> None:
        from .ipam import release

        release(self.prep.cdir.id)

    def _detach(self, host_ifname: str, release: bool) -> None:
        from runtime.network import detach

        try:
            try:
                detach(host_ifname)
            finally:
                if release:
                    self._release()
        except BaseException as err:  # re-raised by wait_detached, in the caller's thread
            self.detach_errors.append(err)

    def wait_detached(self) -> None:
        if self.detaching is not None:
            self.detaching.join()
            self.detaching = None
            if self.detach_errors:
                raise self.detach_errors.pop()
