# Nakagawa & Schielzeth R² reference values -> tests/reference/r2_reference.json
# performance::r2_nakagawa (performance 0.10.2, insight 0.19.0, lme4 1.1-31, Debian bookworm's r-cran-* packages).
# Run from the repository root: Rscript tests/reference/make_r2_reference.R
# insight's definitions: var_fixed = var(X beta) (n - 1 denominator); var_random = sum over terms of
# mean_i z_i' Sigma z_i (random slopes included); var_distribution = sigma^2 (Gaussian), pi^2/3 (logit),
# 1 (probit), log1p(1/mu) with mu = exp(intercept of the intercept-only refit with the same random
# effects) (Poisson log).
suppressPackageStartupMessages({library(lme4); library(performance); library(insight); library(jsonlite)})

data_dir <- "bayesmixed/datasets/data"
sleep <- read.csv(file.path(data_dir, "sleepstudy.csv")); sleep$Subject <- factor(sleep$Subject)
cbpp_data <- read.csv(file.path(data_dir, "cbpp.csv"))
cbpp_data$herd <- factor(cbpp_data$herd); cbpp_data$period <- factor(cbpp_data$period)
penicillin <- read.csv(file.path(data_dir, "penicillin.csv"))
grouse <- read.csv("tests/reference/grouseticks.csv"); grouse$BROOD <- factor(grouse$BROOD)
grouse$YEAR <- factor(grouse$YEAR); grouse$LOCATION <- factor(grouse$LOCATION)

# The same sum written out over VarCorr's terms: insight 0.19 takes the terms from ranef(), which merges the
# two terms of (Days || Subject) into one, and so leaves the slope's variance out; the hand value keeps it.
hand_random <- function(fit) {
  X <- model.matrix(fit)
  sum(sapply(VarCorr(fit), function(S) {
    Z <- X[, rownames(S), drop = FALSE]
    sum(diag(S %*% crossprod(Z))) / nrow(X)
  }))
}

one <- function(fit, formula, data, family, link, reml) {
  r2 <- r2_nakagawa(fit, tolerance = 1e-10)
  v <- get_variance(fit, tolerance = 1e-10)
  random <- hand_random(fit)
  total <- v$var.fixed + random + v$var.distribution
  null_intercept <- if (family == "poisson") unname(fixef(null_model(fit))) else NULL
  list(formula = formula, data = data, family = family, link = link, reml = reml,
       marginal = unname(r2$R2_marginal), conditional = unname(r2$R2_conditional),
       var_fixed = unname(v$var.fixed), var_random = unname(v$var.random),
       var_distribution = unname(v$var.distribution),
       var_random_hand = random, marginal_hand = unname(v$var.fixed / total),
       conditional_hand = unname((v$var.fixed + random) / total),
       theta = unname(getME(fit, "theta")), beta = unname(fixef(fit)), sigma = sigma(fit),
       null_intercept = null_intercept)
}

cases <- list(
  one(lmer(Reaction ~ Days + (Days | Subject), sleep), "Reaction ~ Days + (Days | Subject)", "sleepstudy",
      "gaussian", "identity", TRUE),
  one(lmer(Reaction ~ Days + (Days | Subject), sleep, REML = FALSE), "Reaction ~ Days + (Days | Subject)",
      "sleepstudy", "gaussian", "identity", FALSE),
  one(lmer(Reaction ~ Days + (Days || Subject), sleep), "Reaction ~ Days + (Days || Subject)", "sleepstudy",
      "gaussian", "identity", TRUE),
  one(lmer(diameter ~ 1 + (1 | plate) + (1 | sample), penicillin), "diameter ~ 1 + (1 | plate) + (1 | sample)",
      "penicillin", "gaussian", "identity", TRUE),
  one(glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp_data, family = binomial),
      "cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", "binomial", "logit", FALSE),
  one(glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp_data, family = binomial("probit")),
      "cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", "binomial", "probit", FALSE),
  one(glmer(TICKS ~ YEAR + cHEIGHT + (1 | BROOD), grouse, family = poisson),
      "TICKS ~ YEAR + cHEIGHT + (1 | BROOD)", "grouseticks", "poisson", "log", FALSE)
)
write(toJSON(list(generator = "tests/reference/make_r2_reference.R", performance = as.character(packageVersion("performance")),
                  insight = as.character(packageVersion("insight")), lme4 = as.character(packageVersion("lme4")),
                  cases = cases), auto_unbox = TRUE, digits = NA, pretty = TRUE),
      "tests/reference/r2_reference.json")
