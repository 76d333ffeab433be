#!/usr/bin/env python3
"""Drives headless Chromium over the DevTools protocol, as an operator would click through the dashboard.

    cdp-drive.py CHROMIUM URL SCRIPT.js [--shot NAME=WIDTHxHEIGHT=path.png ...]

Opens URL, runs SCRIPT.js in the page (an async function body; `wait(cond, ms)` and `sleep(ms)` are defined for it)
and prints one JSON object: {"result": what the script returned, "dialogs": the texts of every confirm()/alert()
it raised (each accepted), "shots": {...}}. Screenshots are taken after the script, at the given viewport sizes.
Standard library only (a minimal WebSocket client): CI has python3, not a CDP package.
"""
import base64, json, os, shutil, socket, struct, subprocess, sys, tempfile, time, urllib.request

PRELUDE = """
const sleep = ms => new Promise(r => setTimeout(r, ms));
async function wait(cond, ms = 20000) { const end = Date.now() + ms; while (Date.now() < end) { try { if (await cond()) return true; } catch (e) {} await sleep(50); } throw new Error("timed out waiting for " + cond); }
"""


class WebSocket:
    def __init__(self, url):
        assert url.startswith("ws://")
        hostport, path = url[5:].split("/", 1)
        host, port = hostport.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=120)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("websocket handshake failed")
            response += chunk
        head, self.buffer = response.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("websocket handshake refused: " + head.decode(errors="replace"))

    def send(self, text):
        data = text.encode()
        header = bytearray([0x81])
        if len(data) < 126:
            header.append(0x80 | len(data))
        elif len(data) < 65536:
            header.append(0x80 | 126)
            header += struct.pack(">H", len(data))
        else:
            header.append(0x80 | 127)
            header += struct.pack(">Q", len(data))
        mask = os.urandom(4)
        self.sock.sendall(bytes(header) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("websocket closed")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            length = b1 & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(length)
            opcode = b0 & 0x0F
            if opcode == 8:
                raise RuntimeError("websocket closed by chromium")
            if opcode in (9, 10):
                continue
            message += payload
            if b0 & 0x80:
                return message.decode()


class Page:
    def __init__(self, ws):
        self.ws, self.next_id, self.dialogs, self.events = ws, 0, [], []

    def call(self, method, **params):
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.event(message)

    def event(self, message):
        method = message.get("method")
        if method == "Page.javascriptDialogOpening":
            self.dialogs.append(message["params"]["message"])
            self.next_id += 1
            self.ws.send(json.dumps({"id": self.next_id, "method": "Page.handleJavaScriptDialog", "params": {"accept": True}}))
        elif method:
            self.events.append(method)

    def wait_event(self, name, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if name in self.events:
                return
            self.event(json.loads(self.ws.recv()))
        raise RuntimeError("no " + name)


def main():
    chromium, url, script_path = sys.argv[1:4]
    shots = [arg.split("=", 2) for arg in sys.argv[5::2]] if len(sys.argv) > 4 else []
    profile = tempfile.mkdtemp(prefix="jobcast-cdp-")
    process = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", "--no-first-run",
         "--disable-extensions", "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1280,1400", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        end = time.time() + 90
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.time() > end or process.poll() is not None:
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = open(port_file).read().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30))
        target = next(t for t in targets if t.get("type") == "page")
        page = Page(WebSocket(target["webSocketDebuggerUrl"]))
        page.call("Page.enable")
        page.call("Runtime.enable")
        page.call("Page.navigate", url=url)
        page.wait_event("Page.loadEventFired")
        script = open(script_path, encoding="utf-8").read()
        evaluated = page.call("Runtime.evaluate", expression=f"(async () => {{ {PRELUDE}\n{script}\n }})()", awaitPromise=True,
                              returnByValue=True, timeout=170000)
        if "exceptionDetails" in evaluated:
            details = evaluated["exceptionDetails"]
            raise RuntimeError("the script failed: " + json.dumps(details.get("exception", {}).get("description") or details))
        result = evaluated.get("result", {}).get("value")
        taken = {}
        for name, size, path in shots:
            width, height = (int(x) for x in size.split("x"))
            page.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=width < 600)
            page.call("Runtime.evaluate", expression="new Promise(r => setTimeout(r, 400))", awaitPromise=True)
            metrics = page.call("Page.getLayoutMetrics")
            full = metrics.get("cssContentSize") or metrics.get("contentSize")
            shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                             clip={"x": 0, "y": 0, "width": width, "height": min(max(height, full["height"]), 6000), "scale": 1})
            open(path, "wb").write(base64.b64decode(shot["data"]))
            taken[name] = path
        print(json.dumps({"result": result, "dialogs": page.dialogs, "shots": taken}, ensure_ascii=False))
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
