# References for the negative binomial (NB2) GLMMs: glmmTMB(family = nbinom2) and lme4's glmer.nb.
# Run from the repository root:  Rscript tests/reference/make_negbin_reference.R
# Writes tests/reference/negbin_reference.json and the data sets grouseticks.csv, negbin_slopes.csv,
# salamanders.csv (so the tests run without R).  HEIGHT is centred and scaled (cHEIGHT = (HEIGHT - 450) / 100)
# because glmer.nb fails its convergence checks on the raw altitudes (lme4's own grouseticks example centres it).
suppressPackageStartupMessages({library(lme4); library(glmmTMB); library(jsonlite); library(pbkrtest)})
out <- "tests/reference"

data(grouseticks, package = "lme4")
grouse <- grouseticks[, c("INDEX", "TICKS", "BROOD", "HEIGHT", "YEAR", "LOCATION")]
grouse$cHEIGHT <- (grouse$HEIGHT - 450) / 100
write.csv(grouse, file.path(out, "grouseticks.csv"), row.names = FALSE)

set.seed(20261130)
G <- 40; m <- 15
g <- factor(rep(sprintf("g%02d", 1:G), each = m))
x <- runif(G * m)
b0 <- rnorm(G, 0, 0.5); b1 <- rnorm(G, 0, 0.4)
eta <- 1 + 0.8 * x + b0[g] + b1[g] * x
y <- rnbinom(G * m, mu = exp(eta), size = 2.5)
slopes <- data.frame(y = y, x = round(x, 6), g = g)
write.csv(slopes, file.path(out, "negbin_slopes.csv"), row.names = FALSE)
slopes <- read.csv(file.path(out, "negbin_slopes.csv")); slopes$g <- factor(slopes$g)

data(Salamanders, package = "glmmTMB")
sal <- Salamanders[, c("site", "mined", "spp", "count")]
write.csv(sal, file.path(out, "salamanders.csv"), row.names = FALSE)
sal <- read.csv(file.path(out, "salamanders.csv")); sal$site <- factor(sal$site)
grouse <- read.csv(file.path(out, "grouseticks.csv"))
grouse$YEAR <- factor(grouse$YEAR); grouse$BROOD <- factor(grouse$BROOD); grouse$LOCATION <- factor(grouse$LOCATION)

sdcor <- function(vc) {
  res <- list()
  for (nm in names(vc)) {
    s <- vc[[nm]]
    res[[nm]] <- list(sd = unname(attr(s, "stddev")), cor = unname(attr(s, "correlation")[lower.tri(attr(s, "correlation"))]))
  }
  res
}
nb_case <- function(formula, data) {
  tmb <- glmmTMB(formula, data = data, family = nbinom2)
  nb <- glmer.nb(formula, data = data)
  list(
    formula = deparse(formula, width.cutoff = 500),
    glmmTMB = list(loglik = as.numeric(logLik(tmb)), fixef = as.list(fixef(tmb)$cond),
                   se = as.list(sqrt(diag(vcov(tmb)$cond))), theta_nb = sigma(tmb),
                   ranef_sdcor = sdcor(VarCorr(tmb)$cond)),
    glmer_nb = list(loglik = as.numeric(logLik(nb)), fixef = as.list(fixef(nb)), se = as.list(sqrt(diag(as.matrix(vcov(nb))))),
                    theta_nb = getME(nb, "glmer.nb.theta"), theta = unname(getME(nb, "theta")),
                    ranef_sdcor = sdcor(VarCorr(nb)))
  )
}
negbin <- list(
  R_version = R.version.string, lme4_version = as.character(packageVersion("lme4")),
  glmmTMB_version = as.character(packageVersion("glmmTMB")),
  grouseticks = nb_case(TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION), grouse),
  slopes = nb_case(y ~ x + (1 + x | g), slopes),
  salamanders = nb_case(count ~ mined + spp + (1 | site), sal)
)
write(toJSON(negbin, digits = NA, auto_unbox = TRUE, pretty = TRUE), file.path(out, "negbin_reference.json"))
cat("negbin done\n")

