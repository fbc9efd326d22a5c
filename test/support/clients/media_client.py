"""A Python integrator's download of a media URL, following redirects, three ways:

  python3 media_client.py requests USER PASSWORD URL OUT_FILE
      requests with auth=(user, password): sent preemptively, and dropped by requests
      when a redirect leaves the host (or its port);
  python3 media_client.py urllib-handler USER PASSWORD URL OUT_FILE
      urllib with an HTTPBasicAuthHandler registered for the service's origin: sent
      after a 401 challenge, and only to URLs under what it was registered for;
  python3 media_client.py urllib-header USER PASSWORD URL OUT_FILE
      urllib with a hand-set Authorization header: urllib's redirect handler copies it
      onto the redirected request, whatever its host.

Writes the final body to OUT_FILE and prints the final status.
"""
import base64
import sys
import urllib.error
import urllib.parse
import urllib.request


def main(argv):
    if len(argv) != 6 or argv[1] not in ("requests", "urllib-handler", "urllib-header"):
        print("usage: media_client.py requests|urllib-handler|urllib-header USER PASSWORD URL OUT_FILE", file=sys.stderr)
        return 2
    mode, user, password, url, out = argv[1:]
    if mode == "requests":
        import requests

        res = requests.get(url, auth=(user, password), timeout=60)
        status, body = res.status_code, res.content
    else:
        if mode == "urllib-handler":
            passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
            service = urllib.parse.urlsplit(url)
            passwords.add_password(None, f"{service.scheme}://{service.netloc}/", user, password)
            opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(passwords))
            req = urllib.request.Request(url)
        else:
            opener = urllib.request.build_opener()
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            req = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
        try:
            with opener.open(req, timeout=60) as res:
                status, body = res.status, res.read()
        except urllib.error.HTTPError as err:
            status, body = err.code, err.read()
    with open(out, "wb") as f:
        f.write(body)
    print(status)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
