package io.streamdetour.admin;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class RedactTest {

  @Test
  void secretsAreRedactedAtAnyDepthListsIncludedAndNothingElseChanges() {
    JsonObject source = new JsonObject()
        .put("admin", new JsonObject().put("token", "s3cr3t-token-0123456789").put("port", 2889))
        .put("cluster", new JsonObject().put("members", new JsonArray()
            .add(new JsonObject().put("host", "10.0.0.1").put("password", "p4ss"))
            .add(new JsonArray().add(new JsonObject().put("client-secret", "x")))
            .add("plain")))
        .put("empty", new JsonObject().put("passphrase", ""))
        .put("secrets", new JsonObject().put("api", "kept-out"));

    JsonObject shown = AdminVerticle.redact(source);

    assertThat(shown.encode()).doesNotContain("s3cr3t", "p4ss", "\"x\"", "kept-out");
    assertThat(shown.getJsonObject("admin")).isEqualTo(new JsonObject().put("token", "<redacted>").put("port", 2889));
    assertThat(shown.getJsonObject("cluster").getJsonArray("members")).isEqualTo(new JsonArray()
        .add(new JsonObject().put("host", "10.0.0.1").put("password", "<redacted>"))
        .add(new JsonArray().add(new JsonObject().put("client-secret", "<redacted>")))
        .add("plain"));
    assertThat(shown.getJsonObject("empty").getString("passphrase")).as("nothing to hide").isEmpty();
    assertThat(source.getJsonObject("admin").getString("token")).as("the source is untouched")
        .isEqualTo("s3cr3t-token-0123456789");
  }
}
