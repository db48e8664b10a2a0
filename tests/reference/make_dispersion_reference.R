# DHARMa's dispersion statistic on cbpp, computed from lme4's own simulations (DHARMa itself is not
# installable here: not in Debian, no CRAN access). DHARMa's testDispersion (type "DHARMa"):
# ratio = var(y - yhat) / mean over simulations of var(y_sim - yhat), with yhat the fitted counts at the
# simulation's level: re.form = NA (new random effects) or NULL (conditional on the fitted ones).
# Run from the repository root: Rscript tests/reference/make_dispersion_reference.R
suppressMessages(library(lme4))
d <- read.csv("bayesmixed/datasets/data/cbpp.csv")
d$herd <- factor(d$herd); d$period <- factor(d$period)
m <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), d, family = binomial)
set.seed(1)
result <- list(lme4 = as.character(packageVersion("lme4")), nsim = 4000)
for (conditional in c(FALSE, TRUE)) {
  re <- if (conditional) NULL else NA
  sims <- simulate(m, nsim = result$nsim, re.form = re)
  successes <- sapply(sims, function(s) s[, 1])
  yhat <- predict(m, re.form = re, type = "response") * d$size
  simulated <- apply(successes, 2, function(s) var(s - yhat))
  ratio <- var(d$incidence - yhat) / mean(simulated)
  scaled <- simulated / mean(simulated)
  p <- 2 * min(mean(scaled >= ratio), mean(scaled <= ratio))
  result[[if (conditional) "conditional" else "unconditional"]] <- list(ratio = ratio, p = p)
}
writeLines(jsonlite::toJSON(result, auto_unbox = TRUE, digits = 10, pretty = TRUE),
           "tests/reference/dispersion_reference.json")
