import java.io.IOException;
import java.net.Authenticator;
import java.net.PasswordAuthentication;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;

/**
 * A Java 17 integrator's download of media URLs with java.net.http.HttpClient, written
 * the ways people write it (issue #11):
 *
 *   java MediaClient.java authenticator USER PASSWORD URL OUT_FILE [URL OUT_FILE ...]
 *     follows redirects, credentials from an Authenticator: HttpClient sends them after
 *     a challenge (401 with WWW-Authenticate) and not onto the redirect to the bucket.
 *     But the JDK files them under the URL the exchange ended at (the presigned URL's
 *     folder in the bucket: its redirect filter answers the 302 before the
 *     authentication filter sees it), so a later download through the same client that
 *     reaches the bucket without a challenge (legacy media) sends them there;
 *   java MediaClient.java header USER PASSWORD URL OUT_FILE [URL OUT_FILE ...]
 *     follows redirects, a hand-set "Authorization: Basic" header: HttpClient copies it
 *     onto the redirected request whatever its host, and S3 refuses a presigned request
 *     that carries one;
 *   java MediaClient.java manual-redirect USER PASSWORD URL OUT_FILE [URL OUT_FILE ...]
 *     the recipe docs/clients.md gives: the Authenticator's client does not follow
 *     redirects, and the Location of a 302 is fetched by a client without credentials.
 *
 * For each URL: writes the final body to OUT_FILE and prints the final status on a line.
 * (Run as a single-file program: `java MediaClient.java ...`, no build step.)
 */
public class MediaClient {
    public static void main(String[] args) throws IOException, InterruptedException {
        if (args.length < 5 || args.length % 2 == 0 || !List.of("authenticator", "header", "manual-redirect").contains(args[0])) {
            System.err.println("usage: java MediaClient.java authenticator|header|manual-redirect USER PASSWORD URL OUT_FILE [URL OUT_FILE ...]");
            System.exit(2);
        }
        String mode = args[0];
        String user = args[1];
        String password = args[2];

        boolean manual = mode.equals("manual-redirect");
        HttpClient.Builder builder = HttpClient.newBuilder()
                .followRedirects(manual ? HttpClient.Redirect.NEVER : HttpClient.Redirect.NORMAL)
                .connectTimeout(Duration.ofSeconds(10));
        if (!mode.equals("header")) {
            builder.authenticator(new Authenticator() {
                @Override
                protected PasswordAuthentication getPasswordAuthentication() {
                    return new PasswordAuthentication(user, password.toCharArray());
                }
            });
        }
        HttpClient client = builder.build();
        HttpClient anonymous = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

        for (int i = 3; i < args.length; i += 2) {
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(args[i])).timeout(Duration.ofSeconds(60)).GET();
            if (mode.equals("header")) {
                String token = Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
                request.header("Authorization", "Basic " + token);
            }
            HttpResponse<Path> response = client.send(request.build(), HttpResponse.BodyHandlers.ofFile(Path.of(args[i + 1])));
            if (manual && response.statusCode() == 302) {
                URI location = URI.create(response.headers().firstValue("Location").orElseThrow());
                response = anonymous.send(HttpRequest.newBuilder(location).timeout(Duration.ofSeconds(60)).GET().build(),
                        HttpResponse.BodyHandlers.ofFile(Path.of(args[i + 1])));
            }
            System.out.println(response.statusCode());
        }
    }
}
