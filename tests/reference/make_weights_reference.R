# lme4 / lmerTest reference values for prior weights -> tests/reference/weights_reference.json
# (and the simulated data set tests/reference/weighted_sim.csv).
# Run from the repository root: Rscript tests/reference/make_weights_reference.R
# Data sets: sleepstudy (bundled CSV) with deterministic weights, a simulated data set with a correlated
# random slope, a crossed second factor, a fixed factor and weights, and cbpp as a proportion with
# weights = size (glmer's binomial convention).
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})

data_dir <- "bayesmixed/datasets/data"
sleep <- read.csv(file.path(data_dir, "sleepstudy.csv"))
sleep$Subject <- factor(sleep$Subject)
sleep$w <- 0.5 + ((seq_len(nrow(sleep)) * 7) %% 5) / 4    # 0.5 .. 1.5, five distinct values

set.seed(20261130)
n_g <- 15; n_h <- 6; per <- 8
sim <- data.frame(g = factor(rep(sprintf("g%02d", 1:n_g), each = per)),
                  h = factor(sample(sprintf("h%d", 1:n_h), n_g * per, replace = TRUE)),
                  x = round(runif(n_g * per, -1, 1), 4),
                  f = factor(sample(c("a", "b", "c"), n_g * per, replace = TRUE)))
sim$w <- round(runif(nrow(sim), 0.2, 3), 3)
b0 <- rnorm(n_g, 0, 1.2); b1 <- 0.5 * b0 + rnorm(n_g, 0, 0.6); c0 <- rnorm(n_h, 0, 0.8)
gi <- as.integer(sim$g); hi <- as.integer(sim$h)
sim$y <- round(2 + 1.5 * sim$x + c(0, 0.7, -0.4)[as.integer(sim$f)] + b0[gi] + b1[gi] * sim$x + c0[hi] +
               rnorm(nrow(sim), 0, 1 / sqrt(sim$w)), 5)
write.csv(sim, "tests/reference/weighted_sim.csv", row.names = FALSE)
sim <- read.csv("tests/reference/weighted_sim.csv", stringsAsFactors = TRUE)

cbpp_data <- read.csv(file.path(data_dir, "cbpp.csv"))
cbpp_data$herd <- factor(cbpp_data$herd); cbpp_data$period <- factor(cbpp_data$period)
cbpp_data$prop <- cbpp_data$incidence / cbpp_data$size

lmm_cases <- list(
  list(id = "sleep_reml", data = "sleepstudy", formula = "Reaction ~ Days + (Days | Subject)", REML = TRUE),
  list(id = "sleep_ml", data = "sleepstudy", formula = "Reaction ~ Days + (Days | Subject)", REML = FALSE),
  list(id = "sim_reml", data = "sim", formula = "y ~ x + f + (x | g) + (1 | h)", REML = TRUE),
  list(id = "sim_ml", data = "sim", formula = "y ~ x + f + (x | g) + (1 | h)", REML = FALSE)
)
frames <- list(sleepstudy = sleep, sim = sim)

out <- list(lme4_version = as.character(packageVersion("lme4")),
            lmerTest_version = as.character(packageVersion("lmerTest")), R_version = R.version.string,
            sleepstudy_weights = sleep$w, lmm = list(), glmm = list())
for (case in lmm_cases) {
  d <- frames[[case$data]]
  # nloptwrap's default stopping rule leaves sleep_ml's theta 1.5e-4 short of the optimum (deviance
  # 4e-7 above it, even with tighter xtol_abs/ftol_abs); minqa's BOBYQA with a small final trust
  # radius makes the reference the optimum itself.
  fit <- lmerTest::lmer(as.formula(case$formula), d, REML = case$REML, weights = w,
                        control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))
  s <- summary(fit)
  out$lmm[[case$id]] <- c(case, list(
    weights = "w",
    objective = if (case$REML) unname(REMLcrit(fit)) else unname(deviance(fit)),
    loglik = as.numeric(logLik(fit)),
    beta = as.list(fixef(fit)), theta = unname(getME(fit, "theta")), theta_names = names(getME(fit, "theta")),
    sigma = sigma(fit),
    satterthwaite_df = as.list(s$coefficients[, "df"]),
    std_error = as.list(s$coefficients[, "Std. Error"]),
    fitted = unname(fitted(fit)),
    residuals = unname(residuals(fit)),
    pearson_scaled = unname(residuals(fit, type = "pearson", scaled = TRUE)),
    ranef_first = unname(as.matrix(ranef(fit)[[1]])[1, ]),
    # condVar of the first level of every grouping factor, in ranef()'s order
    cond_var_first = lapply(ranef(fit, condVar = TRUE), function(r) {
      v <- attr(r, "postVar")[, , 1]; unname(as.matrix(v)) })
  ))
}

# Profile intervals of the weighted sleep_ml fit: the variance parameters only. lme4's profile of the fixed
# effects ignores the prior weights' log-determinant (lme4 issue #192, open) and gives intervals far
# narrower than Wald's (here (Intercept) 252.7-257.1 against Wald 239.3-266.2), so only Wald is kept for them.
sleep_ml <- lmer(Reaction ~ Days + (Days | Subject), sleep, REML = FALSE, weights = w,
                 control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))
profile_ci <- suppressWarnings(confint(sleep_ml, method = "profile", parm = "theta_", oldNames = FALSE))
wald_ci <- confint(sleep_ml, method = "Wald", parm = "beta_")
out$profile_sleep_ml <- list(names = rownames(profile_ci), lower = unname(profile_ci[, 1]),
                             upper = unname(profile_ci[, 2]), wald_names = rownames(wald_ci),
                             wald_lower = unname(wald_ci[, 1]), wald_upper = unname(wald_ci[, 2]))

cbpp_fit <- glmer(prop ~ period + (1 | herd), cbpp_data, family = binomial, weights = size)
out$glmm$cbpp_prop <- list(
  formula = "prop ~ period + (1 | herd)", weights = "size", family = "binomial",
  deviance = unname(deviance(cbpp_fit)), loglik = as.numeric(logLik(cbpp_fit)),
  beta = as.list(fixef(cbpp_fit)), theta = unname(getME(cbpp_fit, "theta")))

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/weights_reference.json")
